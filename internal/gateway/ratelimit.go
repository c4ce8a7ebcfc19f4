package gateway

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const limiterShards = 32

// limiter is a token bucket per principal. The table is bounded: when a
// shard is full, buckets that have refilled (indistinguishable from new
// ones) are dropped first, then arbitrary ones.
type limiter struct {
	limit    rate.Limit
	burst    int
	perShard int
	seed     maphash.Seed
	shards   [limiterShards]limiterShard
}

type limiterShard struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst, maxPrincipals int) *limiter {
	l := &limiter{limit: rate.Limit(perSecond), burst: burst, perShard: max(maxPrincipals/limiterShards, 1), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = map[string]*rate.Limiter{}
	}
	return l
}

// allow takes a token from id's bucket at now, or says how long until one
// is available.
func (l *limiter) allow(id string, now time.Time) (bool, time.Duration) {
	s := &l.shards[maphash.String(l.seed, id)%limiterShards]
	s.mu.Lock()
	b := s.m[id]
	if b == nil {
		if len(s.m) >= l.perShard {
			s.evict(now, float64(l.burst), l.perShard)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		s.m[id] = b
	}
	s.mu.Unlock()
	res := b.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (s *limiterShard) evict(now time.Time, full float64, max int) {
	for id, b := range s.m {
		if b.TokensAt(now) >= full {
			delete(s.m, id)
		}
	}
	for id := range s.m {
		if len(s.m) < max {
			return
		}
		delete(s.m, id)
	}
}
