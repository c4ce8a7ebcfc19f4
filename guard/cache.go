package guard

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
	"unsafe"
)

const cacheShards = 32

// tokenCache remembers verified tokens by the SHA-256 of the token, so a
// token is verified once and then costs a map lookup. It is bounded: a full
// shard first drops expired entries, then arbitrary ones (map iteration
// order), which is enough for a cache of short-lived, equally useful items.
type tokenCache struct {
	perShard int
	shards   [cacheShards]tokenShard
}

type tokenShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*verified
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: max(size/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*verified)
	}
	return c
}

// hashToken hashes a credential without copying it: []byte(token) would
// allocate for anything longer than 32 bytes, on every request. Sum256 only
// reads its input.
func hashToken(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

func (c *tokenCache) shard(h *[32]byte) *tokenShard {
	return &c.shards[binary.LittleEndian.Uint32(h[:4])%cacheShards]
}

func (c *tokenCache) get(h *[32]byte) *verified {
	s := c.shard(h)
	s.mu.RLock()
	v := s.m[*h]
	s.mu.RUnlock()
	return v
}

func (c *tokenCache) put(h *[32]byte, v *verified, now time.Time) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		for k, old := range s.m {
			if !now.Before(old.expires) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[*h] = v
}

func (c *tokenCache) drop(h *[32]byte) {
	s := c.shard(h)
	s.mu.Lock()
	delete(s.m, *h)
	s.mu.Unlock()
}

// len returns the number of cached tokens.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
