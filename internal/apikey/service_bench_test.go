package apikey

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

var benchReq = RequestInfo{Route: "GET /api/invoices/{id}", IP: "203.0.113.7", UserAgent: "erp-connector/4.2"}

// TestService_CheckCachedAllocations pins the hot path's budget: a cached
// key costs at most one allocation per check.
func TestService_CheckCachedAllocations(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	e.setTimeline(referenceTimeline())
	_, secret := e.key("acme")
	e.clock.Set(tDeprecated.Add(time.Hour))
	e.check(secret)
	n := testing.AllocsPerRun(200, func() {
		_, _ = e.svc.Check(e.ctx, secret, benchReq)
	})
	if n > 1 {
		t.Errorf("Check of a cached key allocates %v times, want ≤ 1", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	e := newSvcEnv(b, "", nil)
	e.tenant("acme", acme.CreatedAt)
	e.setTimeline(referenceTimeline())
	_, secret := e.key("acme")
	e.clock.Set(tDeprecated.Add(time.Hour))
	e.check(secret)
	ctx := e.ctx
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			if r, _ := e.svc.Check(ctx, secret, benchReq); !r.Decision.Accepted {
				b.Fatal(r.Decision.Code)
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("cached_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = e.svc.Check(ctx, secret, benchReq)
			}
		})
	})
	b.Run("unknown_negative_cached", func(b *testing.B) {
		unknown := Generate()
		e.check(unknown)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = e.svc.Check(ctx, unknown, benchReq)
		}
	})
}

// Sizes of the lookup benchmark's store.
const (
	benchKeys       = 1_000_000
	benchBatch      = 50_000
	benchKeyTenants = 1000
)

// benchSecret is the i-th key of the lookup benchmark: a legacy-format key
// (40 alphanumerics) derived from i, so that a million secrets need not be
// kept in memory.
func benchSecret(i int) string { return fmt.Sprintf("LegacyKey%031d", i) }

// BenchmarkLookup1M looks keys up by hash among 1,000,000 keys in a SQLite
// store: cold (every check misses the cache and asks the store) and cached.
// The store is generated once per run, in batched transactions of 50,000
// keys; the generation time is logged and reported as gen-s.
func BenchmarkLookup1M(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "1m.db")
	log := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, path, sqlite.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	if err := generateKeys(ctx, st); err != nil {
		b.Fatal(err)
	}
	gen := time.Since(start)
	// Printed, not logged: a benchmark's log shows only with -v.
	fmt.Printf("BenchmarkLookup1M: generated %d keys in %s (%.0f keys/s)\n", benchKeys, gen.Round(time.Millisecond), benchKeys/gen.Seconds())

	now := func() time.Time { return tDeprecated }
	run := func(b *testing.B, cacheSize int, secrets []string, warm bool) {
		svc, err := NewService(st, ServiceConfig{Now: now, Logger: log, CacheSize: cacheSize, FlushEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if warm {
			for _, k := range secrets {
				_, _ = svc.Check(ctx, k, benchReq)
			}
		}
		b.ReportAllocs()
		i := 0
		cpu := processCPU()
		for b.Loop() {
			r, err := svc.Check(ctx, secrets[i%len(secrets)], benchReq)
			if err != nil || !r.Decision.Accepted {
				b.Fatalf("check: %v %s", err, r.Decision.Code)
			}
			i++
		}
		reportCPU(b, cpu)
		// After the loop: b.Loop's first call resets reported metrics.
		b.ReportMetric(gen.Seconds(), "gen-s")
	}
	// Cold: a one-entry cache and keys drawn at random from the million, so
	// every check reads the store's 1M-row index.
	rng := rand.New(rand.NewPCG(1, 2))
	cold := make([]string, 100_000)
	for i := range cold {
		cold[i] = benchSecret(rng.IntN(benchKeys))
	}
	b.Run("cold", func(b *testing.B) { run(b, 1, cold, false) })
	// Cached: 10,000 hot keys in a cache that holds them all.
	hot := make([]string, 10_000)
	for i := range hot {
		hot[i] = benchSecret(rng.IntN(benchKeys))
	}
	b.Run("cached", func(b *testing.B) { run(b, 100_000, hot, true) })
	b.Run("cached_parallel", func(b *testing.B) {
		svc, err := NewService(st, ServiceConfig{Now: now, Logger: log, FlushEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range hot {
			_, _ = svc.Check(ctx, k, benchReq)
		}
		var seq atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 104729
			for pb.Next() {
				_, _ = svc.Check(ctx, hot[i%len(hot)], benchReq)
				i++
			}
		})
	})
}

// generateKeys writes benchKeys keys in transactions of benchBatch.
func generateKeys(ctx context.Context, st store.Store) error {
	err := st.Tx(ctx, func(tx store.Tx) error {
		for t := range benchKeyTenants {
			if err := tx.CreateTenant(ctx, store.Tenant{ID: fmt.Sprintf("t%04d", t), Name: "bench", Status: store.StatusActive}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create tenants: %w", err)
	}
	created := at("2024-06-01T00:00:00Z")
	for lo := 0; lo < benchKeys; lo += benchBatch {
		err := st.Tx(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+benchBatch, benchKeys); i++ {
				h := Hash(benchSecret(i))
				k := store.APIKey{
					ID: fmt.Sprintf("key_%07d", i), Tenant: fmt.Sprintf("t%04d", i%benchKeyTenants), Hash: h[:],
					Name: "bench", Permissions: []string{"invoices:read"}, Owner: store.OwnerTenant,
					Status: store.StatusActive, Imported: true, CreatedAt: created, UpdatedAt: created,
				}
				if err := tx.CreateAPIKey(ctx, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("create keys %d…: %w", lo, err)
		}
	}
	return nil
}
