package tokensource

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// TestCacheHelperProcess is the body of the child processes of
// TestCacheFile_TwoProcesses_OneTokenRequest; it does nothing otherwise.
func TestCacheHelperProcess(t *testing.T) {
	t.Parallel()
	if os.Getenv("TOKENSOURCE_HELPER") != "1" {
		t.Skip("helper process only")
	}
	s, err := New(Config{TokenURL: os.Getenv("TS_TOKEN_URL"), ClientID: os.Getenv("TS_CLIENT_ID"),
		ClientSecret: os.Getenv("TS_CLIENT_SECRET"), Scopes: strings.Fields(os.Getenv("TS_SCOPES")),
		CacheFile: os.Getenv("TS_CACHE"), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	// Both children start together: wait for the go signal file.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(os.Getenv("TS_GO")); err == nil || time.Now().After(deadline) {
			break
		}
	}
	tok, err := s.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("TOKEN=%s FROMCACHE=%v\n", tok.AccessToken, tok.FromCache)
}

func TestCacheFile_TwoProcesses_OneTokenRequest(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	dir := t.TempDir()
	cache := filepath.Join(dir, "tokens", "acme.json")
	goFile := filepath.Join(dir, "go")
	type result struct {
		out []byte
		err error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheHelperProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "TOKENSOURCE_HELPER=1", "TS_TOKEN_URL="+k.TokenURL, "TS_CLIENT_ID="+c.ID,
			"TS_CLIENT_SECRET="+c.Secret, "TS_SCOPES="+strings.Join(c.Scopes, " "), "TS_CACHE="+cache, "TS_GO="+goFile)
		wg.Go(func() { results[i].out, results[i].err = cmd.CombinedOutput() })
	}
	time.Sleep(300 * time.Millisecond) // let both children start
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var tokens []string
	fromCache := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("child %d: %v\n%s", i, r.err, r.out)
		}
		for _, line := range strings.Split(string(r.out), "\n") {
			if rest, ok := strings.CutPrefix(line, "TOKEN="); ok {
				tok, fc, _ := strings.Cut(rest, " FROMCACHE=")
				tokens = append(tokens, tok)
				if fc == "true" {
					fromCache++
				}
			}
		}
	}
	if len(tokens) != 2 || tokens[0] != tokens[1] || fromCache != 1 {
		t.Fatalf("children got %d tokens, equal %v, %d from the cache; want one shared token", len(tokens), len(tokens) == 2 && tokens[0] == tokens[1], fromCache)
	}
	if n := k.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d, want 1 for two processes sharing the cache", n)
	}
	fi, err := os.Stat(cache)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestCacheFile_InvalidatedTokenIsNotReadBack(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	cache := filepath.Join(t.TempDir(), "tok.json")
	s, _ := newKeyshiftSource(t, k, newClock(), func(c *Config) { c.CacheFile = cache })
	first, err := s.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Invalidate()
	second, err := s.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken || second.FromCache || k.TokenRequests() != 2 {
		t.Fatalf("after Invalidate: same token %v, from cache %v, requests %d", second.AccessToken == first.AccessToken, second.FromCache, k.TokenRequests())
	}
}

func TestCacheFile_EndpointDownAtStart_UsesValidCachedToken(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	cache := filepath.Join(t.TempDir(), "tok.json")
	clock := newClock()
	a, c := newKeyshiftSource(t, k, clock, func(cfg *Config) { cfg.CacheFile = cache })
	first, err := a.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A new process starts in the refresh window while the server is down.
	k.SetDown(true)
	clock.Advance(21 * time.Hour)
	b, err := New(Config{TokenURL: k.TokenURL, ClientID: c.ID, ClientSecret: c.Secret, Scopes: c.Scopes,
		CacheFile: cache, Now: clock.Now, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Current(context.Background())
	if err != nil || got.AccessToken != first.AccessToken {
		t.Fatalf("err %v; want the cached, still valid token while the endpoint is down", err)
	}
}
