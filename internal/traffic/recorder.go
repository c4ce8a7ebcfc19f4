// Package traffic counts the API requests made with OAuth access tokens, per
// tenant, client and UTC day, so that a tenant can see its traffic move from
// legacy keys (counted by package apikey) to tokens.
//
// It follows the legacy key usage recorder: a Recorder counts in memory on
// the request path, and a Service flushes the counts to the store in
// batches (store.TrafficTx), never a database write per request. It is its
// own package rather than part of apikey because it has nothing to do with
// keys: the gateway counts tokens without the key service, and apikey stays
// the legacy-key domain it is named for.
package traffic

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

const (
	shards    = 32 // a power of two
	nsPerDay  = 24 * int64(time.Hour)
	secPerDay = 24 * 60 * 60
)

// Recorder counts token requests in memory, per tenant, client and UTC day.
// RecordToken is the per-request path: one map lookup under a sharded
// lock, no allocation once the client's entry for the day exists. Drain
// hands the counts to the flusher. Counts since the last successful flush
// are lost if the process dies: at most one flush interval.
//
// Memory follows the clients in use: an entry idle for a whole flush
// interval is dropped at the next Drain. The tenant and client come from
// verified tokens, so callers cannot make up entries.
//
// The zero value is not usable; call NewRecorder.
type Recorder struct {
	seed   maphash.Seed
	shards [shards]shard
}

// shard is padded to its own cache lines so that shards locked by different
// cores do not contend through false sharing.
type shard struct {
	mu sync.Mutex
	m  map[dayKey]*counter
	_  [128 - 16]byte
}

type dayKey struct {
	tenant, client string
	day            int64 // days since the Unix epoch, UTC
}

type counter struct{ n int64 }

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	r := &Recorder{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[dayKey]*counter)
	}
	return r
}

// RecordToken counts one request made with a token of clientID (of tenant)
// at now. It is safe for concurrent use.
func (r *Recorder) RecordToken(tenant, clientID string, now time.Time) {
	ns := now.UnixNano()
	day := ns / nsPerDay
	if ns%nsPerDay < 0 {
		day-- // round down before 1970 too
	}
	k := dayKey{tenant, clientID, day}
	s := &r.shards[maphash.String(r.seed, clientID)&(shards-1)]
	s.mu.Lock()
	c := s.m[k]
	if c == nil {
		// Copies, so that the map does not keep alive the request (or
		// token) the strings point into.
		c = &counter{}
		s.m[dayKey{strings.Clone(tenant), strings.Clone(clientID), day}] = c
	}
	c.n++
	s.mu.Unlock()
}

// Drain returns the counts recorded since the previous Drain, sorted by
// tenant, day and client, and resets them. Entries idle since the previous
// Drain are dropped. The caller owns the result; if writing it fails, it
// must keep and retry it, since the recorder no longer has it.
func (r *Recorder) Drain() []store.TokenUsageDelta {
	var out []store.TokenUsageDelta
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for k, c := range s.m {
			if c.n == 0 {
				delete(s.m, k)
				continue
			}
			out = append(out, store.TokenUsageDelta{Tenant: k.tenant, ClientID: k.client,
				Day: time.Unix(k.day*secPerDay, 0).UTC(), Requests: c.n})
			// Kept at zero, so the next request of the day finds it
			// without allocating.
			c.n = 0
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, compareDelta)
	return out
}

func compareDelta(a, b store.TokenUsageDelta) int {
	return cmp.Or(strings.Compare(a.Tenant, b.Tenant), a.Day.Compare(b.Day), strings.Compare(a.ClientID, b.ClientID))
}

// Merge returns the deltas of a and b combined per tenant, client and day,
// sorted as Drain sorts. Neither input is modified.
func Merge(a, b []store.TokenUsageDelta) []store.TokenUsageDelta {
	if len(a) == 0 {
		return b
	}
	out := slices.Concat(a, b)
	slices.SortFunc(out, compareDelta)
	merged := out[:0]
	for _, d := range out {
		if n := len(merged); n > 0 && compareDelta(merged[n-1], d) == 0 {
			merged[n-1].Requests += d.Requests
			continue
		}
		merged = append(merged, d)
	}
	return merged
}
