package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func recv(t *testing.T, ch <-chan store.Change) (store.Change, bool) {
	t.Helper()
	select {
	case c, ok := <-ch:
		return c, ok
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
		return store.Change{}, false
	}
}

func change(i int) store.Change {
	return store.Change{Kind: store.ChangeClient, ID: fmt.Sprint("c", i), Tenant: "acme"}
}

func TestFeed_Publish_DeliveredInOrder(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	ch := f.Subscribe(t.Context())
	for i := range 10 {
		f.Publish(change(i))
	}
	for i := range 10 {
		if got, _ := recv(t, ch); got != change(i) {
			t.Fatalf("change %d = %+v, want %+v", i, got, change(i))
		}
	}
}

func TestFeed_QueueFull_ResyncInsteadOfBlocking(t *testing.T) {
	f := store.NewFeed(3)
	defer f.Close()
	ch := f.Subscribe(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			f.Publish(change(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	// Everything after the overflow may be folded into the resync.
	for {
		c, ok := recv(t, ch)
		if !ok {
			t.Fatal("channel closed")
		}
		if c.Kind == store.ChangeResync {
			break
		}
	}
	// Later changes arrive again, or are folded into a resync still queued.
	f.Publish(store.Change{Kind: store.ChangeScope, ID: "marker"})
	for {
		if c, _ := recv(t, ch); c.ID == "marker" || c.Kind == store.ChangeResync {
			return
		}
	}
}

func TestFeed_CaughtUp_ChangesFlowAfterResync(t *testing.T) {
	f := store.NewFeed(2)
	defer f.Close()
	ch := f.Subscribe(t.Context())
	f.Publish(change(0), change(1), change(2)) // more than fits: one resync
	if c, _ := recv(t, ch); c.Kind != store.ChangeResync {
		t.Fatalf("got %+v, want a resync", c)
	}
	f.Publish(change(3))
	if c, _ := recv(t, ch); c != change(3) {
		t.Fatalf("got %+v after the resync, want %+v", c, change(3))
	}
}

func TestFeed_ContextDone_ChannelClosed(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	ch := f.Subscribe(ctx)
	cancel()
	for {
		if _, ok := recv(t, ch); !ok {
			break
		}
	}
	f.Publish(change(1)) // nobody left; must not block or panic
}

func TestFeed_Close_ClosesSubscribers(t *testing.T) {
	f := store.NewFeed(0)
	ch := f.Subscribe(t.Context())
	f.Close()
	f.Close() // idempotent
	if _, ok := recv(t, ch); ok {
		t.Fatal("received a change from a closed feed")
	}
	if _, ok := recv(t, f.Subscribe(t.Context())); ok {
		t.Fatal("Subscribe on a closed feed returned an open channel")
	}
	f.Publish(change(1))
}

func BenchmarkFeed_Publish(b *testing.B) {
	f := store.NewFeed(0)
	defer f.Close()
	for range 4 {
		ch := f.Subscribe(b.Context())
		go func() {
			for range ch {
			}
		}()
	}
	c := change(1)
	b.ReportAllocs()
	for b.Loop() {
		f.Publish(c)
	}
}
