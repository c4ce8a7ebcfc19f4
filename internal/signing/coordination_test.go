package signing

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// sharedClock is a clock shared by the instances of a test, moved by hand.
type sharedClock struct{ ns atomic.Int64 }

func (c *sharedClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *sharedClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// cluster is three keyrings on one PostgreSQL schema, each with a store of
// its own (so changes reach the others through LISTEN/NOTIFY only), all
// running their Run loop and keeping keys of clusterAlgs.
type cluster struct {
	clock  *sharedClock
	stores []*postgres.Store
	rings  []*Keyring
}

const (
	testPrePublish  = time.Hour
	testRotateEvery = 24 * time.Hour
)

// clusterAlgs are the algorithms the cluster keeps, primary first.
var clusterAlgs = []string{AlgES256, AlgRS256, AlgEdDSA}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	dsn := pgtest.DSN(t)
	schema := pgtest.NewSchema(t, dsn)
	c := &cluster{clock: &sharedClock{}}
	c.clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	for i := range 3 {
		c.stores = append(c.stores, pgtest.OpenSchema(t, dsn, schema, postgres.Options{NoMigrate: i > 0}))
	}
	// All three start at once on an empty schema, as a fresh deployment does.
	c.rings = make([]*Keyring, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	sealer := newTestSealer(t, 7)
	for i := range c.rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.rings[i], errs[i] = New(context.Background(), c.stores[i], sealer, Config{
				Alg: clusterAlgs[0], ExtraAlgs: clusterAlgs[1:],
				PrePublish: testPrePublish, RotateEvery: testRotateEvery, MaxTokenTTL: time.Hour,
				CheckEvery: time.Hour, Now: c.clock.now, Logger: slog.New(slog.DiscardHandler),
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("keyring %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, k := range c.rings {
		go k.Run(ctx)
	}
	return c
}

// published returns the kids k publishes.
func published(t *testing.T, k *Keyring) map[string]bool {
	t.Helper()
	body, _ := k.JWKS()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, key := range set.Keys {
		out[key.Kid] = true
	}
	return out
}

// kids are the active and next kid of each algorithm.
type kids map[string]struct{ active, next string }

// stored returns the active and next kids in the store by algorithm.
func (c *cluster) stored(t *testing.T) (active, next map[string][]string) {
	t.Helper()
	rows, err := c.stores[0].ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	active, next = map[string][]string{}, map[string][]string{}
	for _, r := range rows {
		switch r.State {
		case store.KeyActive:
			active[r.Alg] = append(active[r.Alg], r.ID)
		case store.KeyNext:
			next[r.Alg] = append(next[r.Alg], r.ID)
		}
	}
	return active, next
}

// converge waits until the store holds exactly one active and one next key
// per algorithm, and every keyring signs with those active keys (Sign with
// the primary's) and publishes all of them.
func (c *cluster) converge(t *testing.T, what string) kids {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, n := c.stored(t)
		ok := len(a) == len(clusterAlgs) && len(n) == len(clusterAlgs)
		for _, alg := range clusterAlgs {
			ok = ok && len(a[alg]) == 1 && len(n[alg]) == 1
		}
		for _, k := range c.rings {
			if !ok {
				break
			}
			p := published(t, k)
			ok = k.ActiveKeyID() == a[clusterAlgs[0]][0]
			for _, alg := range clusterAlgs {
				ok = ok && activeKID(k, alg) == a[alg][0] && p[a[alg][0]] && p[n[alg][0]]
			}
		}
		if ok {
			out := kids{}
			for _, alg := range clusterAlgs {
				out[alg] = struct{ active, next string }{a[alg][0], n[alg][0]}
			}
			return out
		}
		if time.Now().After(deadline) {
			var signing []string
			for _, k := range c.rings {
				for _, alg := range clusterAlgs {
					signing = append(signing, alg+":"+activeKID(k, alg))
				}
			}
			t.Fatalf("%s: store has active %v next %v; keyrings sign with %v", what, a, n, signing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchSigning checks, until stop is closed, that whatever key any keyring
// signs with, in any algorithm, is published by all of them. It returns
// the violations seen.
func (c *cluster) watchSigning(t *testing.T, stop <-chan struct{}) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var bad []string
		for {
			select {
			case <-stop:
				out <- bad
				return
			default:
			}
			for i, k := range c.rings {
				for _, alg := range clusterAlgs {
					kid := activeKID(k, alg)
					for j, o := range c.rings {
						body, _ := o.JWKS()
						var set struct {
							Keys []struct {
								Kid string `json:"kid"`
							} `json:"keys"`
						}
						_ = json.Unmarshal(body, &set)
						found := false
						for _, key := range set.Keys {
							found = found || key.Kid == kid
						}
						if !found && len(bad) < 10 {
							bad = append(bad, "keyring "+string(rune('A'+i))+" signs "+alg+" with "+kid+" unpublished by "+string(rune('A'+j)))
						}
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return out
}

// TestKeyring_ThreeInstancesOnePostgres_RotateAsOne starts three keyrings at
// once on an empty schema, each keeping three algorithms, then rotates
// repeatedly with the scheduled Maintain racing on all three and, in the
// last rounds, the admin verb on one of them racing the others' Maintain.
// After each round all three must sign with the same key per algorithm,
// the store must hold exactly one active and one next key per algorithm,
// and at no moment may a keyring sign with a key another does not publish.
func TestKeyring_ThreeInstancesOnePostgres_RotateAsOne(t *testing.T) {
	c := newCluster(t)
	before := c.converge(t, "start-up of three instances at once")
	for round := range 6 {
		stop := make(chan struct{})
		violations := c.watchSigning(t, stop)
		c.clock.advance(testRotateEvery + time.Minute)
		var wg sync.WaitGroup
		for i, k := range c.rings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if round >= 4 && i == 0 {
					err = k.Rotate(context.Background(), store.AuditEvent{Actor: "operator"})
				} else {
					err = k.Maintain(context.Background())
				}
				if err != nil {
					t.Errorf("round %d, keyring %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
		after := c.converge(t, "after rotation round")
		close(stop)
		if bad := <-violations; len(bad) > 0 {
			t.Errorf("round %d: %v", round, bad)
		}
		for _, alg := range clusterAlgs {
			was, got := before[alg], after[alg]
			if got.active != was.next {
				t.Errorf("round %d, %s: active %s; want the published next key %s", round, alg, got.active, was.next)
			}
			if got.next == was.next || got.active == was.active {
				t.Errorf("round %d, %s: no rotation (active %s → %s, next %s → %s)", round, alg, was.active, got.active, was.next, got.next)
			}
		}
		before = after
		// Let the new next key's pre-publication time pass.
		c.clock.advance(testPrePublish)
	}
}
