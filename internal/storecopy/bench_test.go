package storecopy_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
	"github.com/keyshift/keyshift/internal/storecopy"
)

// BenchmarkCopy_APIKeys_SQLiteToPostgres copies an installation of
// KEYSHIFT_BENCH_KEYS API keys (default 1,000,000) from SQLite to
// PostgreSQL. Filling the source takes a while; run it once:
//
//	go test -run '^$' -bench Copy -benchtime 1x ./internal/storecopy/
func BenchmarkCopy_APIKeys_SQLiteToPostgres(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("KEYSHIFT_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	dsn := pgtest.DSN(b)
	src := openSQLite(b)
	fill := time.Now()
	batch(b, src, nTenants, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.(store.Tx).CreateTenant(ctx, store.Tenant{ID: "t" + strconv.Itoa(i), Name: "T",
			Status: store.StatusActive, CreatedAt: base, UpdatedAt: base})
	})
	batch(b, src, n, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.CreateAPIKey(ctx, apiKey(i))
	})
	b.Logf("filled the SQLite source with %d keys in %v", n, time.Since(fill))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dst := pgtest.OpenSchema(b, dsn, pgtest.NewSchema(b, dsn), postgres.Options{Timeout: storecopy.BatchTimeout})
		b.StartTimer()
		start := time.Now()
		got, err := storecopy.Copy(context.Background(), src, dst, nil)
		if err != nil {
			b.Fatal(err)
		}
		if got.APIKeys != int64(n) {
			b.Fatalf("copied %d keys, want %d", got.APIKeys, n)
		}
		d := time.Since(start)
		b.ReportMetric(float64(n)/d.Seconds(), "keys/s")
		b.Logf("copied %d API keys in %v", n, d)
	}
}
