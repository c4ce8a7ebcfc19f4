package store_test

import (
	"context"
	"errors"
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

// done returns a context that is already canceled: AwaitApplied then
// answers from what the followers have reported so far, without waiting.
func done(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func TestFeed_AwaitApplied_WaitsUntilFollowerApplied(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	sub := f.Follow(t.Context())
	seq := f.Publish(change(1))
	if err := f.AwaitApplied(done(t), seq); !errors.Is(err, store.ErrApplyWait) {
		t.Fatalf("AwaitApplied before the follower applied = %v, want ErrApplyWait", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- f.AwaitApplied(t.Context(), seq) }()
	c, _ := recv(t, sub.C)
	if c.Seq != seq {
		t.Fatalf("follower got change number %d, want %d", c.Seq, seq)
	}
	select {
	case err := <-waited:
		t.Fatalf("AwaitApplied returned %v before Applied", err)
	default:
	}
	sub.Applied(c)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("AwaitApplied after Applied = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AwaitApplied still waiting after Applied")
	}
	if err := f.AwaitApplied(done(t), seq); err != nil {
		t.Fatalf("AwaitApplied of an applied change = %v", err)
	}
}

func TestFeed_AwaitApplied_EarlierChangeApplied_LaterStillAwaited(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	sub := f.Follow(t.Context())
	first := f.Publish(change(1))
	second := f.Publish(change(2), change(3))
	c, _ := recv(t, sub.C)
	sub.Applied(c)
	if err := f.AwaitApplied(done(t), first); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := f.AwaitApplied(done(t), second); !errors.Is(err, store.ErrApplyWait) {
		t.Fatalf("second write before its changes were applied = %v, want ErrApplyWait", err)
	}
	for range 2 {
		c, _ := recv(t, sub.C)
		sub.Applied(c)
	}
	if err := f.AwaitApplied(done(t), second); err != nil {
		t.Fatalf("second write after its changes were applied: %v", err)
	}
}

func TestFeed_AwaitApplied_PlainSubscriberNotWaitedFor(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	ch := f.Subscribe(t.Context()) // never read
	if err := f.AwaitApplied(done(t), f.Publish(change(1))); err != nil {
		t.Fatalf("AwaitApplied with only a plain subscriber = %v", err)
	}
	if c, _ := recv(t, ch); c != change(1) {
		t.Fatalf("plain subscriber got %+v, want %+v (no number)", c, change(1))
	}
}

func TestFeed_AwaitApplied_ResyncCarriesNumbersItReplaced(t *testing.T) {
	f := store.NewFeed(2)
	defer f.Close()
	sub := f.Follow(t.Context())
	// Each batch overflows the queue: the first becomes a resync, the
	// second is folded into it (or, if the first was already taken, makes
	// a resync of its own). Either way the last resync must carry the
	// number of the last change it stands for.
	f.Publish(change(0), change(1), change(2))
	last := f.Publish(change(3), change(4), change(5))
	for {
		c, ok := recv(t, sub.C)
		if !ok {
			t.Fatal("feed closed")
		}
		sub.Applied(c)
		if c.Kind == store.ChangeResync && c.Seq == last {
			break
		}
		if c.Kind != store.ChangeResync {
			t.Fatalf("got %+v, want only resyncs", c)
		}
	}
	if err := f.AwaitApplied(done(t), last); err != nil {
		t.Fatalf("AwaitApplied after the resync that replaced change %d was applied = %v", last, err)
	}
}

func TestFeed_AwaitApplied_FollowerNeverApplies_BoundedWait(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	f.SetApplyWait(20 * time.Millisecond)
	_ = f.Follow(t.Context()) // a stuck cache
	if err := f.AwaitApplied(t.Context(), f.Publish(change(1))); !errors.Is(err, store.ErrApplyWait) {
		t.Fatalf("AwaitApplied with a stuck follower = %v, want ErrApplyWait after the bound", err)
	}
}

func TestFeed_AwaitApplied_FollowerLeaves_WriterReleased(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	sub := f.Follow(ctx)
	seq := f.Publish(change(1))
	waited := make(chan error, 1)
	go func() { waited <- f.AwaitApplied(t.Context(), seq) }()
	cancel()
	for {
		if _, ok := recv(t, sub.C); !ok {
			break
		}
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("AwaitApplied after the follower left = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AwaitApplied still waiting for a follower that left")
	}
}

func TestFeed_AwaitApplied_LaterFollowerNotWaitedForEarlierChange(t *testing.T) {
	f := store.NewFeed(0)
	defer f.Close()
	seq := f.Publish(change(1))
	_ = f.Follow(t.Context()) // subscribed after the change: loads the state it left
	if err := f.AwaitApplied(done(t), seq); err != nil {
		t.Fatalf("AwaitApplied of a change older than the follower = %v", err)
	}
}
