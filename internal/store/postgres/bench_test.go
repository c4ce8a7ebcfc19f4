package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// backends runs a benchmark on PostgreSQL and, for comparison, on SQLite.
func backends(b *testing.B, fn func(b *testing.B, s store.Store)) {
	b.Run("postgres", func(b *testing.B) { fn(b, openTemp(b, postgres.Options{})) })
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "keyshift.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		fn(b, s)
	})
}

func BenchmarkGetClient(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		createTenant(b, s, "acme")
		write(b, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateClient(ctx, store.Client{ID: "c1", Tenant: "acme", Name: "bench",
				GrantTypes: []string{"client_credentials"}, Scopes: []string{"a.b.read", "a.b.write"},
				Secrets:        []store.ClientSecret{{ID: "s1", Hash: make([]byte, 32), Hint: "abcd"}},
				AccessTokenTTL: 24 * time.Hour, Status: store.StatusActive})
		})
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetClient(ctx, "c1"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkTxCreateRevocation measures one durable commit (admin write
// latency) with its change announcement.
func BenchmarkTxCreateRevocation(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		b.ReportAllocs()
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			err := s.Tx(ctx, func(tx store.Tx) error {
				return tx.CreateRevocation(ctx, store.Revocation{JTI: fmt.Sprint("j", i),
					Tenant: "acme", ClientID: "c1", ExpiresAt: exp})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
	})
}

// BenchmarkAddUsage measures one usage flush of 10 keys.
func BenchmarkAddUsage(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		day := time.Now().UTC().Truncate(24 * time.Hour)
		deltas := make([]store.UsageDelta, 10)
		for i := range deltas {
			deltas[i] = store.UsageDelta{KeyID: fmt.Sprint("k", i), Tenant: "acme", Day: day,
				Accepted: 3, Refused: map[string]int64{"api_key_sunset": 1}, LastUsedAt: time.Now(),
				LastIP: "192.0.2.1", Routes: []store.RouteCount{{Route: "GET /api/invoices", Count: 3}}}
		}
		b.ReportAllocs()
		for b.Loop() {
			err := s.Tx(ctx, func(tx store.Tx) error { return tx.(store.KeyTx).AddUsage(ctx, deltas) })
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetAPIKeyByHash measures the legacy key check's store lookup.
func BenchmarkGetAPIKeyByHash(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		createTenant(b, s, "acme")
		hash := make([]byte, 32)
		hash[0] = 1
		exp := time.Now().Add(24 * time.Hour)
		write(b, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateAPIKey(ctx, store.APIKey{ID: "k1", Tenant: "acme", Hash: hash, Hint: "abcd",
				Name: "bench", Permissions: []string{"a.b.read"}, ExpiresAt: &exp,
				Owner: store.OwnerTenant, Status: store.StatusActive})
		})
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetAPIKeyByHash(ctx, hash); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkListClients measures loading a tenant's clients (the client
// cache's reload), 100 of them.
func BenchmarkListClients(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		createTenant(b, s, "acme")
		write(b, s, func(ctx context.Context, tx store.Tx) error {
			for i := range 100 {
				err := tx.CreateClient(ctx, store.Client{ID: fmt.Sprint("c", i), Tenant: "acme", Name: "bench",
					GrantTypes: []string{"client_credentials"}, Scopes: []string{"a.b.read", "a.b.write"},
					Secrets:        []store.ClientSecret{{ID: "s1", Hash: make([]byte, 32), Hint: "abcd"}},
					AccessTokenTTL: 24 * time.Hour, Status: store.StatusActive})
				if err != nil {
					return err
				}
			}
			return nil
		})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ListClients(ctx, "acme"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
