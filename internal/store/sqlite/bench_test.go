package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

func BenchmarkGetClient(b *testing.B) {
	s := openTemp(b, sqlite.Options{})
	createTenant(b, s, "acme")
	tx(b, s, func(ctx context.Context, tx store.Tx) error {
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
}

// BenchmarkTxCreateRevocation measures one durable (synchronous=FULL) commit.
func BenchmarkTxCreateRevocation(b *testing.B) {
	s := openTemp(b, sqlite.Options{})
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
}
