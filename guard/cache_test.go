package guard

import (
	"strconv"
	"testing"
	"time"
)

func TestTokenCache_Bounded_DropsExpiredFirst(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newTokenCache(cacheShards * 4)
	live := &verified{expires: now.Add(time.Hour)}
	for i := range 10000 {
		h := hashToken("token-" + strconv.Itoa(i))
		v := live
		if i%2 == 0 {
			v = &verified{expires: now.Add(-time.Second)}
		}
		c.put(&h, v, now)
	}
	if n := c.len(); n > cacheShards*4 {
		t.Fatalf("cache holds %d entries, bound %d", n, cacheShards*4)
	}
	h := hashToken("fresh")
	c.put(&h, live, now)
	if c.get(&h) != live {
		t.Fatal("the newest entry is missing")
	}
	c.drop(&h)
	if c.get(&h) != nil {
		t.Fatal("dropped entry still there")
	}
}
