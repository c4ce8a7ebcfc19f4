package apikey

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// keyEntry is a cached key: the record Decide needs, what a caller learns
// about it, and its tenant's check counters, resolved once so that the hot
// path does not build label values.
type keyEntry struct {
	key    Key
	info   KeyInfo
	checks [len(outcomes)]prometheus.Counter
}

// keyCache holds keys by hash, bounded, with a negative cache of hashes the
// store did not know.
//
// Fills race with invalidations: a lookup that read the store before a
// change committed must not cache what it read after the change's eviction
// ran. Every invalidation bumps gen, and a fill carries the gen read before
// its store lookup; a fill from an older gen is served but not cached.
type keyCache struct {
	mu     sync.RWMutex
	byHash map[[32]byte]*keyEntry
	byID   map[string][32]byte
	neg    map[[32]byte]time.Time // hash → when the negative entry expires
	gen    uint64
	size   int
	nsize  int
}

func newKeyCache(size, negSize int) *keyCache {
	return &keyCache{
		byHash: make(map[[32]byte]*keyEntry),
		byID:   make(map[string][32]byte),
		neg:    make(map[[32]byte]time.Time),
		size:   size,
		nsize:  negSize,
	}
}

// get returns the cached entry of h, or whether h is known not to exist.
func (c *keyCache) get(h *[32]byte, now time.Time) (e *keyEntry, unknown bool) {
	c.mu.RLock()
	e = c.byHash[*h]
	if e == nil {
		if exp, ok := c.neg[*h]; ok && now.Before(exp) {
			unknown = true
		}
	}
	c.mu.RUnlock()
	return e, unknown
}

// generation returns the current invalidation generation, read before a
// store lookup whose result may be cached.
func (c *keyCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put caches e under h unless an invalidation happened since gen. When the
// cache is full an arbitrary entry makes room (Go's map iteration order is
// randomised, which makes this random eviction).
func (c *keyCache) put(h *[32]byte, e *keyEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if old, ok := c.byID[e.key.ID]; ok && old != *h {
		delete(c.byHash, old) // the key's hash changed
	}
	if _, ok := c.byHash[*h]; !ok && len(c.byHash) >= c.size {
		for victim, ve := range c.byHash {
			delete(c.byHash, victim)
			delete(c.byID, ve.key.ID)
			break
		}
	}
	c.byHash[*h] = e
	c.byID[e.key.ID] = *h
	delete(c.neg, *h)
}

// putNegative remembers that h is unknown until exp.
func (c *keyCache) putNegative(h *[32]byte, gen uint64, now, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.neg[*h]; !ok && len(c.neg) >= c.nsize {
		c.pruneNegative(now)
	}
	c.neg[*h] = exp
}

// pruneNegative drops expired negative entries and, if none had expired,
// an arbitrary one. Called with mu held.
func (c *keyCache) pruneNegative(now time.Time) {
	n := len(c.neg)
	for h, exp := range c.neg {
		if !now.Before(exp) {
			delete(c.neg, h)
		}
	}
	if len(c.neg) < n {
		return
	}
	for h := range c.neg {
		delete(c.neg, h)
		return
	}
}

// evictID drops key id and the whole negative cache: a changed key may be
// a new one whose hash was looked up (and found unknown) before it existed,
// and the change names only the id.
func (c *keyCache) evictID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if h, ok := c.byID[id]; ok {
		delete(c.byHash, h)
		delete(c.byID, id)
	}
	clear(c.neg)
}

// clear drops everything.
func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byHash)
	clear(c.byID)
	clear(c.neg)
}

// tenantOf returns the tenant of a cached key id, or "".
func (c *keyCache) tenantOf(id string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.byID[id]
	if !ok {
		return "", false
	}
	return c.byHash[h].key.Tenant, true
}

// len returns the number of cached keys and unknown hashes.
func (c *keyCache) len() (keys, unknown int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byHash), len(c.neg)
}
