package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/gateway"
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
				SecretFile: filepath.Join(b.TempDir(), "ks.secret"), Routes: benchRoutes(b)}, st)
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.Start(ctx); err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()
			fn(b, hs.URL, op.ClientID, op.ClientSecret)
		})
	}
}

// benchRoutes puts the gateway in front of a trivial upstream.
func benchRoutes(b *testing.B) *gateway.Routes {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"data":[]}`)
	}))
	b.Cleanup(up.Close)
	path := filepath.Join(b.TempDir(), "routes.yaml")
	err := os.WriteFile(path, []byte("upstream: "+up.URL+"\nrate_limit: {per_second: -1}\nroutes:\n"+
		"  - {method: GET, path: \"/api/invoices\", scopes: [core.invoice.read], permissions: [\"invoices:read\"]}\n"), 0o600)
	if err != nil {
		b.Fatal(err)
	}
	r, err := gateway.LoadRoutes(path)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkGuardThroughput is requests through keyshift's gateway to an
// upstream, with a legacy API key (key cache, timeline decision, usage
// counted in memory) and with a bearer token (JWT verification, cached).
func BenchmarkGuardThroughput(b *testing.B) {
	benchBackends(b, func(b *testing.B, base, id, secret string) {
		_, op, err := tokenResp(context.Background(), base, id, secret, "keyshift:admin")
		if err != nil {
			b.Fatal(err)
		}
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/admin/v1/tenants", map[string]string{"id": "acme", "name": "Acme"}},
			{http.MethodPut, "/admin/v1/scopes/core.invoice.read", map[string]any{"description": "Read invoices", "permissions": []string{"invoices:read"}}},
		} {
			if code, body, err := call(context.Background(), req.method, base+req.path, op, req.body); err != nil || code >= 300 {
				b.Fatalf("%s %s: %d %s %v", req.method, req.path, code, body, err)
			}
		}
		var key struct {
			Key string `json:"key"`
		}
		var cl struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		contact := map[string]string{"login": "bench", "email": "bench@acme.test"}
		benchCall(b, base+"/admin/v1/tenants/acme/keys", op, map[string]any{"name": "bench", "contact": contact}, &key)
		benchCall(b, base+"/admin/v1/tenants/acme/clients", op, map[string]any{"name": "bench",
			"grant_types": []string{"client_credentials"}, "scopes": []string{"core.invoice.read"}, "contact": contact}, &cl)
		// The new client reaches the token endpoint's cache through the feed.
		var tok string
		for deadline := time.Now().Add(5 * time.Second); tok == ""; time.Sleep(10 * time.Millisecond) {
			code, t, err := tokenResp(context.Background(), base, cl.ClientID, cl.ClientSecret, "core.invoice.read")
			if time.Now().After(deadline) {
				b.Fatalf("token for the bench client: %d %v", code, err)
			}
			tok = t
		}
		for _, cred := range []struct{ name, header, value string }{
			{"api_key", "X-API-Key", key.Key},
			{"bearer", "Authorization", "Bearer " + tok},
		} {
			b.Run(cred.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest(http.MethodGet, base+"/api/invoices", nil)
						req.Header.Set(cred.header, cred.value)
						if code, body, err := do(req); err != nil || code != http.StatusOK {
							b.Errorf("GET /api/invoices: %d %s %v", code, body, err)
							return
						}
					}
				})
			})
		}
	})
}

func benchCall(b *testing.B, u, token string, body, out any) {
	b.Helper()
	code, data, err := call(context.Background(), http.MethodPost, u, token, body)
	if err != nil || code != http.StatusCreated {
		b.Fatalf("POST %s: %d %s %v", u, code, data, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		b.Fatal(err)
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
