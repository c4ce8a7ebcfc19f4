package authz

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestFailureLimiter_BlocksAfterBurstAndRefills(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(rate.Every(6*time.Second), 3, 100)
	for i := range 3 {
		if _, blocked := l.blocked("k", now); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail("k", now)
	}
	wait, blocked := l.blocked("k", now)
	if !blocked || wait < 5*time.Second || wait > 6*time.Second {
		t.Fatalf("after burst: blocked=%v wait=%v", blocked, wait)
	}
	if _, blocked := l.blocked("other", now); blocked {
		t.Fatal("other key blocked")
	}
	if _, blocked := l.blocked("k", now.Add(6*time.Second)); blocked {
		t.Fatal("still blocked after refill")
	}
}

func TestFailureLimiter_BoundedMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(rate.Every(time.Second), 2, 10)
	for i := range 50 {
		l.fail(string(rune('a'+i)), now)
	}
	if l.size() > 10 {
		t.Fatalf("tracked %d keys, max 10", l.size())
	}
	// Once buckets refill, a sweep makes room again.
	later := now.Add(time.Minute)
	l.sweepAll(later)
	if l.size() != 0 {
		t.Fatalf("tracked %d keys after sweep", l.size())
	}
}

func TestFailureLimiter_DisabledIsNil(t *testing.T) {
	l := newFailureLimiter(1, -1, 10)
	l.fail("k", time.Now())
	if _, blocked := l.blocked("k", time.Now()); blocked {
		t.Fatal("disabled limiter blocked")
	}
}
