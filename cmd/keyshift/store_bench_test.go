package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/server"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// benchBackends runs fn on a real keyshift server (HTTP on loopback) on
// SQLite and on PostgreSQL, in the same run, so the figures compare.
func benchBackends(b *testing.B, fn func(b *testing.B, base, opID, opSecret string)) {
	backends := []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }},
		{"postgres", func(b *testing.B) string {
			dsn := pgtest.DSN(b)
			return dsn + "&search_path=" + pgtest.NewSchema(b, dsn)
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			st, err := server.OpenStore(ctx, be.dsn(b), logger, time.Now)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			op, err := server.Initialise(ctx, st, "http://bench.test", time.Now)
			if err != nil {
				b.Fatal(err)
			}
			srv, err := server.New(ctx, server.Config{Issuer: "http://bench.test", Logger: logger,
				SecretFile: filepath.Join(b.TempDir(), "ks.secret")}, st)
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.Authz.Start(ctx); err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()
			fn(b, hs.URL, op.ClientID, op.ClientSecret)
		})
	}
}

// BenchmarkTokenIssuance is client-credentials token issuance over HTTP,
// from parallel clients. It reads no database: the figures should match.
func BenchmarkTokenIssuance(b *testing.B) {
	benchBackends(b, func(b *testing.B, base, id, secret string) {
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				code, _, err := tokenResp(context.Background(), base, id, secret, "")
				if err != nil || code != http.StatusOK {
					b.Errorf("token: %d %v", code, err)
					return
				}
			}
		})
	})
}

// BenchmarkAdminWrite is the latency of one admin write (create a tenant:
// one transaction with its audit event), sequential.
func BenchmarkAdminWrite(b *testing.B) {
	var seq atomic.Int64
	benchBackends(b, func(b *testing.B, base, id, secret string) {
		code, op, err := tokenResp(context.Background(), base, id, secret, "keyshift:admin")
		if err != nil || code != http.StatusOK {
			b.Fatalf("operator token: %d %v", code, err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			tid := fmt.Sprintf("bench-%d", seq.Add(1))
			code, body, err := call(context.Background(), http.MethodPost, base+"/admin/v1/tenants", op, map[string]string{"id": tid, "name": tid})
			if err != nil || code != http.StatusCreated {
				b.Fatalf("create tenant: %d %s %v", code, body, err)
			}
		}
	})
}
