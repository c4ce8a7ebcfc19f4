package store

import (
	"context"
	"sync"
)

// DefaultFeedBuffer is the number of changes a Feed queues for one subscriber
// before it drops them and queues a ChangeResync instead.
const DefaultFeedBuffer = 1024

// Feed fans committed changes out to in-process subscribers. Backends call
// Publish after a commit; Publish never blocks, so a slow subscriber cannot
// stall writers: when its queue is full the queue is replaced by a single
// ChangeResync, telling it to reload whatever it caches.
//
// The zero Feed is not usable; create one with NewFeed.
type Feed struct {
	buffer int

	mu     sync.Mutex
	subs   map[*feedSub]struct{}
	closed bool
}

// feedSub is one subscriber: a bounded queue drained by its own goroutine
// into the subscriber's channel, so that Publish only appends.
type feedSub struct {
	out    chan Change
	wake   chan struct{} // capacity 1: "the queue has something"
	done   chan struct{} // closed when the feed closes
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
	return &Feed{buffer: buffer, subs: make(map[*feedSub]struct{})}
}

// Subscribe returns a channel that receives every change published after the
// call, until ctx is done or the feed is closed; the channel is then closed.
func (f *Feed) Subscribe(ctx context.Context) <-chan Change {
	s := &feedSub{
		out:  make(chan Change),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		close(s.out)
		return s.out
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()

	go func() {
		defer close(s.out)
		defer f.remove(s)
		s.pump(ctx)
	}()
	return s.out
}

// Publish queues changes for every subscriber without blocking.
func (f *Feed) Publish(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.push(changes, f.buffer)
	}
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
}

func (f *Feed) remove(s *feedSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
}

func (s *feedSub) push(changes []Change, limit int) {
	s.mu.Lock()
	switch {
	case s.resync && len(s.queue)+len(changes) > limit:
		// Already told to reload everything; later changes add nothing.
	case len(s.queue)+len(changes) > limit:
		s.queue = append(s.queue[:0], Change{Kind: ChangeResync})
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
