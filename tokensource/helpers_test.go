package tokensource

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newKeyshiftSource returns a Source for a fresh basic-auth client of k.
func newKeyshiftSource(t *testing.T, k *agenttest.Keyshift, clock *fakeClock, mod func(*Config)) (*Source, agenttest.Client) {
	t.Helper()
	c := k.NewClient(t, "")
	cfg := Config{TokenURL: k.TokenURL, ClientID: c.ID, ClientSecret: c.Secret, Scopes: c.Scopes,
		Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// waitIdle waits until no token request of s is in flight.
func waitIdle(t *testing.T, s *Source) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		idle := s.flight == nil
		s.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("token request still in flight after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
