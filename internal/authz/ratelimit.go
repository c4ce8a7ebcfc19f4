package authz

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the failed-authentication limiter: ten failures, then one
// more every six seconds.
const (
	defaultFailureBurst = 10
	defaultFailureRate  = rate.Limit(1.0 / 6)
	// defaultMaxTracked bounds the memory of one limiter.
	defaultMaxTracked = 100_000
)

// failureLimiter is a token bucket per key (a client id, a client address
// or a sign-in account) that only failed authentications drain. What an
// empty bucket means is the caller's: for client credentials (256 random
// bits, not guessable) only a failing attempt is refused, so an attacker
// who knows a client id or shares an address cannot hold a client off;
// for passwords and user codes (guessable) every attempt is refused until
// the bucket refills, since answering a correct guess would confirm it.
type failureLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
	// pending counts failures not yet shared with other instances; nil
	// unless failures are shared (see ShareFailures).
	pending map[string]int64
}

// newFailureLimiter returns a limiter, or nil (limit nothing) when burst < 0.
func newFailureLimiter(limit rate.Limit, burst, maxTracked int) *failureLimiter {
	if burst < 0 {
		return nil
	}
	return &failureLimiter{limit: limit, burst: burst, max: maxTracked, buckets: map[string]*rate.Limiter{}}
}

// blocked reports whether key has no failure left at now, and when one will
// be available again.
func (l *failureLimiter) blocked(key string, now time.Time) (time.Duration, bool) {
	if l == nil || key == "" {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return 0, false
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	if l.limit <= 0 {
		return time.Hour, true
	}
	wait := time.Duration(math.Ceil((1 - tokens) / float64(l.limit) * float64(time.Second)))
	return max(wait, time.Second), true
}

// fail records a failed authentication for key at now.
func (l *failureLimiter) fail(key string, now time.Time) {
	if l == nil || key == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending != nil && (len(l.pending) < l.max || l.pending[key] > 0) {
		l.pending[key]++
	}
	if b := l.bucket(key, now); b != nil {
		b.AllowN(now, 1)
	}
}

// bucket returns key's bucket, creating it when there is room; l.mu is held.
func (l *failureLimiter) bucket(key string, now time.Time) *rate.Limiter {
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
			if len(l.buckets) >= l.max {
				// Full of keys under attack: stop tracking new ones rather
				// than grow without bound. The other limiter (address or
				// client id) still applies.
				return nil
			}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	return b
}

// absorb records n failures that other instances counted for key: they
// drain the bucket as local failures do, down to empty. (Failures beyond
// the bucket would have been refused uncounted had the instances shared
// one bucket, so they do not push it below zero.)
func (l *failureLimiter) absorb(key string, n int64, now time.Time) {
	if l == nil || key == "" || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b == nil {
		return
	}
	if take := min(n, int64(math.Floor(b.TokensAt(now)))); take > 0 {
		b.AllowN(now, int(take))
	}
}

// share starts counting failures for sharing.
func (l *failureLimiter) share() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]int64{}
	}
}

// takePending returns the failures counted since the last call.
func (l *failureLimiter) takePending() map[string]int64 {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.pending
	if out != nil {
		l.pending = map[string]int64{}
	}
	return out
}

// restorePending puts back failures whose sharing failed, so the next
// flush carries them.
func (l *failureLimiter) restorePending(p map[string]int64) {
	if l == nil || len(p) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		return
	}
	for k, n := range p {
		if len(l.pending) < l.max || l.pending[k] > 0 {
			l.pending[k] += n
		}
	}
}

// sweep forgets buckets that have refilled completely: they hold no state a
// fresh bucket would not. It runs at most once a second.
func (l *failureLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// size returns the number of tracked keys (for tests).
func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweepAll forgets refilled buckets now (periodic maintenance).
func (l *failureLimiter) sweepAll(now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastSweep = time.Time{}
	l.sweep(now)
}
