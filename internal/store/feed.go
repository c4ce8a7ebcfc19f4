package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultFeedBuffer is the number of changes a Feed queues for one subscriber
// before it drops them and queues a ChangeResync instead.
const DefaultFeedBuffer = 1024

// DefaultApplyWait bounds how long AwaitApplied holds a writer for this
// instance's caches. Applying one change is a primary-key read, so the
// bound is only reached when a cache is stuck; the write is then
// acknowledged anyway and the cache catches up when it can.
const DefaultApplyWait = 2 * time.Second

// ErrApplyWait reports that a cache did not apply a change within the
// feed's apply wait.
var ErrApplyWait = errors.New("caches did not apply the change in time")

// Feed fans committed changes out to in-process subscribers. Backends call
// Publish after a commit; Publish never blocks, so a slow subscriber cannot
// stall writers: when its queue is full the queue is replaced by a single
// ChangeResync, telling it to reload whatever it caches.
//
// Publish numbers the changes. A cache that follows the feed (Follow)
// reports each change it has applied, and the writer that published it
// waits for that (AwaitApplied) before it acknowledges the write: this
// instance reads its own writes at once. Plain subscribers (Subscribe)
// are never waited for.
//
// The zero Feed is not usable; create one with NewFeed.
type Feed struct {
	buffer    int
	applyWait time.Duration

	mu     sync.Mutex
	subs   map[*feedSub]struct{}
	closed bool
	seq    uint64        // number of the last published change
	acked  chan struct{} // closed and replaced when a follower progresses or leaves
}

// feedSub is one subscriber: a bounded queue drained by its own goroutine
// into the subscriber's channel, so that Publish only appends.
type feedSub struct {
	out  chan Change
	wake chan struct{} // capacity 1: "the queue has something"
	done chan struct{} // closed when the feed closes
	// follows marks a cache that reports what it applied; applied is the
	// highest number it reported (both guarded by Feed.mu).
	follows bool
	applied uint64

	mu     sync.Mutex
	queue  []Change
	resync bool // queue holds a ChangeResync that replaced dropped changes
}

// NewFeed returns a feed that queues up to buffer changes per subscriber
// (DefaultFeedBuffer when buffer <= 0).
func NewFeed(buffer int) *Feed {
	if buffer <= 0 {
		buffer = DefaultFeedBuffer
	}
	return &Feed{buffer: buffer, applyWait: DefaultApplyWait,
		subs: make(map[*feedSub]struct{}), acked: make(chan struct{})}
}

// Subscribe returns a channel that receives every change published after the
// call, until ctx is done or the feed is closed; the channel is then closed.
// Writers do not wait for such a subscriber.
func (f *Feed) Subscribe(ctx context.Context) <-chan Change {
	return f.subscribe(ctx, false).out
}

// Subscription is the subscription of a cache that applies changes (see
// Feed.Follow). Receive from C, apply the change, then call Applied.
type Subscription struct {
	// C receives every change published after Follow, until the context
	// of Follow is done or the feed is closed; it is then closed.
	C <-chan Change
	f *Feed
	s *feedSub
}

// Follow subscribes a cache: like Subscribe, but a write of this instance
// is acknowledged only once the subscriber has reported its changes
// applied (or the feed's apply wait is over). The subscriber must call
// Applied after each change it receives, and must not wait for its own
// writes: a Store.Tx from the goroutine that applies changes would wait
// for itself until the apply wait ends.
func (f *Feed) Follow(ctx context.Context) *Subscription {
	s := f.subscribe(ctx, true)
	return &Subscription{C: s.out, f: f, s: s}
}

// Applied reports that c, and every change received before it, is applied
// to the subscriber's cache; writers waiting for it may proceed. Applied is
// to be called also when applying failed and a reload was scheduled
// instead, so that writers are not held for a store error.
func (s *Subscription) Applied(c Change) {
	if s == nil || s.f == nil {
		return
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if c.Seq > s.s.applied {
		s.s.applied = c.Seq
		s.f.wakeWaitersLocked()
	}
}

func (f *Feed) subscribe(ctx context.Context, follows bool) *feedSub {
	s := &feedSub{
		out:     make(chan Change),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		follows: follows,
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		close(s.out)
		return s
	}
	// Changes published before the subscription are not this subscriber's
	// to apply: it loads the state they left after subscribing.
	s.applied = f.seq
	f.subs[s] = struct{}{}
	f.mu.Unlock()

	go func() {
		defer close(s.out)
		defer f.remove(s)
		s.pump(ctx)
	}()
	return s
}

// Publish queues changes for every subscriber without blocking, and returns
// the number of the last one for AwaitApplied (0 when there are none).
func (f *Feed) Publish(changes ...Change) uint64 {
	if len(changes) == 0 {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	numbered := make([]Change, len(changes))
	for i, c := range changes {
		f.seq++
		c.Seq = f.seq
		numbered[i] = c
	}
	for s := range f.subs {
		s.push(numbered, f.buffer)
	}
	return f.seq
}

// AwaitApplied waits until every cache following the feed has applied the
// changes up to seq, as numbered by Publish. It gives up when ctx is done or
// after the feed's apply wait, returning an error wrapping ErrApplyWait
// then; the changes are committed either way, and a cache that has not
// applied them yet does so when it catches up.
func (f *Feed) AwaitApplied(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return nil
	}
	var timeout <-chan time.Time
	for {
		f.mu.Lock()
		lagging := 0
		for s := range f.subs {
			if s.follows && s.applied < seq {
				lagging++
			}
		}
		acked := f.acked
		f.mu.Unlock()
		if lagging == 0 {
			return nil
		}
		if timeout == nil {
			t := time.NewTimer(f.applyWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-acked:
		case <-timeout:
			return fmt.Errorf("change %d: %d cache(s) lagging after %s: %w", seq, lagging, f.applyWait, ErrApplyWait)
		case <-ctx.Done():
			return fmt.Errorf("change %d: %d cache(s) lagging: %w: %w", seq, lagging, ErrApplyWait, ctx.Err())
		}
	}
}

// SetApplyWait changes the bound of AwaitApplied (DefaultApplyWait unless
// set; tests shorten it). Call it before the feed is used.
func (f *Feed) SetApplyWait(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applyWait = d
}

// Close closes every subscriber's channel; later subscriptions get a closed
// channel and later publications go nowhere.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for s := range f.subs {
		close(s.done)
		delete(f.subs, s)
	}
	f.wakeWaitersLocked()
}

func (f *Feed) remove(s *feedSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
	if s.follows {
		f.wakeWaitersLocked() // nobody waits for a follower that left
	}
}

// wakeWaitersLocked lets every AwaitApplied look again; f.mu is held.
func (f *Feed) wakeWaitersLocked() {
	close(f.acked)
	f.acked = make(chan struct{})
}

func (s *feedSub) push(changes []Change, limit int) {
	last := changes[len(changes)-1].Seq
	s.mu.Lock()
	switch {
	case s.resync && len(s.queue)+len(changes) > limit:
		// Already told to reload everything; later changes add nothing but
		// their number: the reload, which starts after they were committed,
		// applies them too.
		s.queue[0].Seq = last
	case len(s.queue)+len(changes) > limit:
		s.queue = append(s.queue[:0], Change{Kind: ChangeResync, Seq: last})
		s.resync = true
	default:
		s.queue = append(s.queue, changes...)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns and clears the queued changes.
func (s *feedSub) take() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	s.resync = false
	return q
}

func (s *feedSub) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.wake:
		}
		for _, c := range s.take() {
			if !s.follows {
				c.Seq = 0 // the number is for followers' acknowledgements only
			}
			select {
			case s.out <- c:
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
	}
}
