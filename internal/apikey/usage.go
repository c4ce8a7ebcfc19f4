package apikey

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of what the recorder keeps per key and day.
const (
	// MaxTopRoutes is how many routes are tracked per key and day.
	MaxTopRoutes = 10
	// Longer values are cut (at a rune boundary) before being kept, so that
	// a client cannot make the recorder hold large strings.
	maxIPLen        = 64
	maxUserAgentLen = 512
	maxRouteLen     = 256
	usageShards     = 64 // a power of two
	secondsPerDay   = 24 * 60 * 60
	nsPerDay        = secondsPerDay * int64(time.Second)
)

// outcomes indexes the per-outcome counters; anything else counts as "other".
var outcomes = [...]string{CodeAccepted, CodeSunset, CodeBrownout, CodeDisabled, CodeExpired, CodeUnknown, "other"}

func outcomeIndex(code string) int {
	switch code {
	case CodeAccepted:
		return 0
	case CodeSunset:
		return 1
	case CodeBrownout:
		return 2
	case CodeDisabled:
		return 3
	case CodeExpired:
		return 4
	case CodeUnknown:
		return 5
	}
	return len(outcomes) - 1
}

// RouteCount is the number of uses of a key on one route.
type RouteCount struct {
	Route string `json:"route"`
	// Count is exact while a key uses at most MaxTopRoutes routes in a
	// period; beyond that it is the space-saving estimate, an upper bound.
	Count uint64 `json:"count"`
	// Overcount is how much Count may exceed the truth: the count the route
	// inherited when it took over another's slot. Count-Overcount is a
	// lower bound.
	Overcount uint64 `json:"overcount,omitempty"`
}

// UsageDelta is the usage of one key on one UTC day since the previous Drain,
// to be added to the stored totals.
type UsageDelta struct {
	KeyID string `json:"key_id"`
	// Day is midnight UTC of the day of use.
	Day time.Time `json:"day"`
	// Count is every use, accepted or refused.
	Count    uint64 `json:"count"`
	Accepted uint64 `json:"accepted"`
	// Refusals counts refused uses by decision code ("other" for a code
	// Record does not know); nil when none.
	Refusals map[string]uint64 `json:"refusals,omitempty"`
	// LastUsedAt, LastIP and LastUserAgent describe the latest use.
	LastUsedAt    time.Time `json:"last_used_at"`
	LastIP        string    `json:"last_ip,omitempty"`
	LastUserAgent string    `json:"last_user_agent,omitempty"`
	// Routes are the most used routes, most used first.
	Routes []RouteCount `json:"routes,omitempty"`
}

// Recorder counts key uses in memory, per key and UTC day. Record is the
// per-request path (under 100 ns, no allocation once a key's entry for the
// day exists); Drain hands the counters to a flusher that writes them in
// batches. Usage recorded since the last successful flush is lost if the
// process dies: at most one flush interval.
//
// The zero value is not usable; call NewRecorder.
type Recorder struct {
	shards [usageShards]usageShard
}

// usageShard is padded to its own cache lines so that shards locked by
// different cores do not contend through false sharing.
//
// The hot path does one map lookup by key id: cur holds each key's entry for
// the latest day it was used. Entries of earlier days that are not drained
// yet (the day rolled over, or a request from before midnight finished
// after it) wait in past.
type usageShard struct {
	mu   sync.Mutex
	cur  map[string]*usageEntry
	past map[usageKey]*usageEntry
	_    [128 - 24]byte
}

type usageKey struct {
	keyID string
	day   int64 // days since the Unix epoch, UTC
}

type usageEntry struct {
	key       usageKey
	count     uint64
	outcomes  [len(outcomes)]uint64
	lastUsed  int64 // Unix nanoseconds
	lastIP    string
	lastUA    string
	routes    [MaxTopRoutes]RouteCount
	nroutes   uint8
	lastRoute uint8 // index of the last route hit: the common case is a repeat
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	r := &Recorder{}
	for i := range r.shards {
		r.shards[i].cur = make(map[string]*usageEntry)
		r.shards[i].past = make(map[usageKey]*usageEntry)
	}
	return r
}

// Record counts one use of key keyID at now with the decision code, the route
// (the matched pattern, not the raw path, so that the top-routes table stays
// meaningful), the client IP (without port) and user agent. It is safe for
// concurrent use. The strings are copied only when they differ from the ones
// already kept, so steady traffic does not allocate. A key the lookup did not
// find has no id: callers count such uses under an id of their choosing.
func (r *Recorder) Record(keyID, code, route, ip, userAgent string, now time.Time) {
	ns := now.UnixNano()
	day := ns / nsPerDay
	if ns%nsPerDay < 0 {
		day-- // round down before 1970 too
	}
	s := &r.shards[shardOf(keyID)]
	s.mu.Lock()
	e := s.cur[keyID]
	if e == nil || e.key.day != day {
		e = s.entry(keyID, day)
	}
	e.count++
	e.outcomes[outcomeIndex(code)]++
	if ns >= e.lastUsed {
		e.lastUsed = ns
		keep(&e.lastIP, ip, maxIPLen)
		keep(&e.lastUA, userAgent, maxUserAgentLen)
	}
	if route != "" {
		e.addRoute(route)
	}
	s.mu.Unlock()
}

// entry finds or makes the entry of keyID for day when it is not the key's
// current one: a new key, a new day, or a late use from an earlier day.
func (s *usageShard) entry(keyID string, day int64) *usageEntry {
	cur := s.cur[keyID]
	switch {
	case cur == nil:
		e := &usageEntry{key: usageKey{strings.Clone(keyID), day}}
		s.cur[e.key.keyID] = e
		return e
	case day > cur.key.day:
		if cur.count == 0 { // drained: reuse it, strings and all
			cur.key.day = day
			return cur
		}
		s.past[cur.key] = cur
		e := &usageEntry{key: usageKey{cur.key.keyID, day}}
		s.cur[cur.key.keyID] = e
		return e
	default:
		k := usageKey{keyID, day}
		e := s.past[k]
		if e == nil {
			e = &usageEntry{key: usageKey{strings.Clone(keyID), day}}
			s.past[e.key] = e
		}
		return e
	}
}

// shardOf spreads keys over shards with FNV-1a over the last 8 bytes of the
// id: key ids are server-generated and end in random characters, so this is
// as even as a full hash at a fraction of the cost (the map hashes the whole
// id again anyway).
func shardOf(keyID string) int {
	h := uint32(2166136261) ^ uint32(len(keyID))
	for i := max(0, len(keyID)-8); i < len(keyID); i++ {
		h = (h ^ uint32(keyID[i])) * 16777619
	}
	return int((h ^ h>>16) & (usageShards - 1))
}

// keep stores a copy of v (cut to max bytes) in *dst unless it is already
// there: compare first, copy only on change.
func keep(dst *string, v string, max int) {
	v = cut(v, max)
	if *dst != v {
		*dst = strings.Clone(v)
	}
}

func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// addRoute counts route with the space-saving algorithm: a new route beyond
// the table takes over the least counted slot and inherits its count, so the
// heavy hitters stay and their counts are upper bounds.
func (e *usageEntry) addRoute(route string) {
	if i := e.lastRoute; i < e.nroutes && e.routes[i].Route == route {
		e.routes[i].Count++
		return
	}
	least := 0
	for i := 0; i < int(e.nroutes); i++ {
		if e.routes[i].Route == route {
			e.routes[i].Count++
			e.lastRoute = uint8(i)
			return
		}
		if e.routes[i].Count < e.routes[least].Count {
			least = i
		}
	}
	route = strings.Clone(cut(route, maxRouteLen))
	if e.nroutes < MaxTopRoutes {
		least = int(e.nroutes)
		e.nroutes++
	}
	inherited := e.routes[least].Count
	e.routes[least] = RouteCount{Route: route, Count: inherited + 1, Overcount: inherited}
	e.lastRoute = uint8(least)
}

// Drain returns the usage recorded since the previous Drain, sorted by key and
// day, and resets the counters. Entries idle since the previous Drain are
// dropped, so memory follows the keys in use, not all keys ever seen. The
// caller owns the result; if writing it fails, it must keep and retry it,
// since the recorder no longer has it.
func (r *Recorder) Drain() []UsageDelta {
	var out []UsageDelta
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for k, e := range s.cur {
			if e.count == 0 {
				delete(s.cur, k)
				continue
			}
			out = append(out, e.delta())
			e.reset()
		}
		for k, e := range s.past {
			out = append(out, e.delta())
			delete(s.past, k)
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b UsageDelta) int {
		return cmp.Or(strings.Compare(a.KeyID, b.KeyID), a.Day.Compare(b.Day))
	})
	return out
}

func (e *usageEntry) delta() UsageDelta {
	k := e.key
	d := UsageDelta{
		KeyID:         k.keyID,
		Day:           time.Unix(k.day*secondsPerDay, 0).UTC(),
		Count:         e.count,
		Accepted:      e.outcomes[0],
		LastUsedAt:    time.Unix(0, e.lastUsed).UTC(),
		LastIP:        e.lastIP,
		LastUserAgent: e.lastUA,
	}
	for i := 1; i < len(outcomes); i++ {
		if n := e.outcomes[i]; n > 0 {
			if d.Refusals == nil {
				d.Refusals = make(map[string]uint64)
			}
			d.Refusals[outcomes[i]] = n
		}
	}
	for _, rc := range e.routes[:e.nroutes] {
		if rc.Count > 0 {
			d.Routes = append(d.Routes, rc)
		}
	}
	if len(d.Routes) > 1 {
		// Most used first by guaranteed count, so a late one-off route that
		// inherited a large count does not outrank real heavy hitters.
		slices.SortStableFunc(d.Routes, func(a, b RouteCount) int {
			return cmp.Or(cmp.Compare(b.Count-b.Overcount, a.Count-a.Overcount), cmp.Compare(b.Count, a.Count))
		})
	}
	return d
}

// reset zeroes the counters of an entry but keeps its last IP, user agent,
// time and route names, so that the next Record compares instead of copying.
// A zero-count route is the first to be replaced by a new one.
func (e *usageEntry) reset() {
	e.count = 0
	e.outcomes = [len(outcomes)]uint64{}
	for i := range e.routes {
		e.routes[i].Count, e.routes[i].Overcount = 0, 0
	}
}
