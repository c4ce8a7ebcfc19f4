package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var feedTests = []test{
	{"EveryKindOfWrite_Published", testFeedKinds},
	{"DeleteTenant_PublishesItsClients", testFeedDeleteTenant},
	{"TwoSubscribers_BothReceive", testFeedTwoSubscribers},
	{"ContextDone_ChannelClosed", testFeedCancel},
	{"SlowSubscriber_WritersNotBlocked", testFeedSlowSubscriber},
	{"Follower_TxReturnsAfterItApplied", testFeedFollowerTx},
}

// next receives one change or fails after waitTimeout.
func next(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("change feed closed early")
		}
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no change published")
	}
	return store.Change{}
}

// expectChanges receives len(want) changes and compares them in order.
func expectChanges(t *testing.T, ch <-chan store.Change, want ...store.Change) {
	t.Helper()
	var got []store.Change
	for range want {
		got = append(got, next(t, ch))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes:\n got %+v\nwant %+v", got, want)
	}
}

// expectChangeSet receives len(want) changes and compares them in any order.
func expectChangeSet(t *testing.T, ch <-chan store.Change, want ...store.Change) {
	t.Helper()
	var got []store.Change
	for range want {
		got = append(got, next(t, ch))
	}
	key := func(c store.Change) string { return fmt.Sprintf("%s/%s/%s", c.Kind, c.Tenant, c.ID) }
	var g, w []string
	for i := range want {
		g, w = append(g, key(got[i])), append(w, key(want[i]))
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("changes (any order):\n got %v\nwant %v", g, w)
	}
}

func testFeedKinds(t *testing.T, s store.Store) {
	changes := s.Subscribe(t.Context())
	write(t, s, writeEverything)
	expectChanges(t, changes,
		store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"},
		store.Change{Kind: store.ChangeClient, ID: "c1", Tenant: "acme"},
		store.Change{Kind: store.ChangeScope, ID: "core.invoice.read"},
		store.Change{Kind: store.ChangeSigningKey, ID: "k1"},
		store.Change{Kind: store.ChangeRevocation, ID: "j1", Tenant: "acme"},
	)

	write(t, s, func(ctx context.Context, tx store.Tx) error {
		steps := []error{
			tx.UpdateTenant(ctx, "acme", func(v store.Tenant) (store.Tenant, error) { return v, nil }),
			tx.UpdateClient(ctx, "c1", func(v store.Client) (store.Client, error) { return v, nil }),
			tx.UpdateSigningKey(ctx, "k1", func(v store.SigningKey) (store.SigningKey, error) { return v, nil }),
			tx.DeleteClient(ctx, "c1"),
			tx.DeleteScope(ctx, "core.invoice.read"),
			tx.DeleteSigningKey(ctx, "k1"),
		}
		for i, err := range steps {
			if err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return nil
	})
	expectChanges(t, changes,
		store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"},
		store.Change{Kind: store.ChangeClient, ID: "c1", Tenant: "acme"},
		store.Change{Kind: store.ChangeSigningKey, ID: "k1"},
		store.Change{Kind: store.ChangeClient, ID: "c1", Tenant: "acme"},
		store.Change{Kind: store.ChangeScope, ID: "core.invoice.read"},
		store.Change{Kind: store.ChangeSigningKey, ID: "k1"},
	)
}

func testFeedDeleteTenant(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createClients(t, s, newClient("c1", "acme", "ada"), newClient("c2", "acme", "bob"),
		newClient("c3", "other", "ada"))
	changes := s.Subscribe(t.Context())
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	expectChangeSet(t, changes,
		store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"},
		store.Change{Kind: store.ChangeClient, ID: "c1", Tenant: "acme"},
		store.Change{Kind: store.ChangeClient, ID: "c2", Tenant: "acme"},
	)
	putScopes(t, s, store.Scope{Name: "marker"})
	expectChanges(t, changes, store.Change{Kind: store.ChangeScope, ID: "marker"})
}

func testFeedTwoSubscribers(t *testing.T, s store.Store) {
	a, b := s.Subscribe(t.Context()), s.Subscribe(t.Context())
	createTenants(t, s, "acme")
	want := store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"}
	expectChanges(t, a, want)
	expectChanges(t, b, want)
}

func testFeedCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	changes := s.Subscribe(ctx)
	cancel()
	deadline := time.After(waitTimeout)
	for {
		select {
		case _, ok := <-changes:
			if !ok {
				// Writes after the subscriber left must not block or fail.
				createTenants(t, s, "acme")
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after its context was canceled")
		}
	}
}

func testFeedSlowSubscriber(t *testing.T, s store.Store) {
	const txs, each = 40, 100
	changes := s.Subscribe(t.Context())
	done := make(chan error, 1)
	go func() {
		ctx := t.Context()
		for i := range txs {
			err := s.Tx(ctx, func(tx store.Tx) error {
				for j := range each {
					jti := fmt.Sprintf("j%d-%d", i, j)
					if err := tx.CreateRevocation(ctx, newRevocation(jti, time.Hour)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		noErr(t, "writes while a subscriber does not read", err)
	case <-time.After(2 * waitTimeout):
		t.Fatal("writers blocked by a subscriber that does not read")
	}

	// The subscriber then gets every change, or a resync standing for those
	// it missed.
	putScopes(t, s, store.Scope{Name: "marker"})
	seen := 0
	for {
		c := next(t, changes)
		switch {
		case c.Kind == store.ChangeResync:
			return
		case c.Kind == store.ChangeScope && c.ID == "marker":
			if seen != txs*each {
				t.Fatalf("got %d of %d changes and no resync", seen, txs*each)
			}
			return
		default:
			seen++
		}
	}
}

// testFeedFollowerTx checks read-your-writes: Tx returns only once a cache
// following the feed has applied the transaction's changes.
func testFeedFollowerTx(t *testing.T, s store.Store) {
	sub := s.Follow(t.Context())
	var applied atomic.Int32
	go func() {
		for c := range sub.C {
			if c.Kind == store.ChangeTenant {
				applied.Add(1)
			}
			sub.Applied(c)
		}
	}()
	for i := range 20 {
		createTenants(t, s, fmt.Sprintf("t%d", i))
		if got := applied.Load(); got != int32(i+1) {
			t.Fatalf("after write %d Tx returned with %d tenant changes applied, want %d", i+1, got, i+1)
		}
	}
}
