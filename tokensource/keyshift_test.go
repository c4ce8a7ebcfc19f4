package tokensource

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// These tests run against a real keyshift token endpoint; only the Source's
// clock is moved.

func TestSource_RefreshesAt20hOf24hToken_NotBefore(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	clock := newClock()
	s, _ := newKeyshiftSource(t, k, clock, nil)
	ctx := context.Background()

	first, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if life := first.Expiry.Sub(first.IssuedAt); life < 24*time.Hour-2*time.Second || life > 24*time.Hour {
		t.Fatalf("lifetime = %v, want 24 h from expires_in", life)
	}
	const jitter = 5 * time.Minute
	if d := first.RefreshAt.Sub(first.IssuedAt); d < 20*time.Hour-jitter-time.Second || d > 20*time.Hour+jitter {
		t.Fatalf("refresh point at %v, want 20 h ± %v", d, jitter)
	}

	// Just before the earliest jittered refresh point: no request.
	clock.Advance(20*time.Hour - jitter - 2*time.Second)
	for range 50 {
		if got, err := s.Current(ctx); err != nil || got.AccessToken != first.AccessToken {
			t.Fatalf("before the window: got a different token or %v", err)
		}
	}
	waitIdle(t, s)
	if n := k.TokenRequests(); n != 1 {
		t.Fatalf("token requests before 20 h - jitter = %d, want 1", n)
	}

	// Past the latest refresh point: the old token is still served at once
	// while one background request fetches the new one.
	clock.Advance(2*jitter + 4*time.Second)
	if got, err := s.Current(ctx); err != nil || got.AccessToken != first.AccessToken {
		t.Fatalf("in the window: want the still-valid old token at once, err %v", err)
	}
	waitIdle(t, s)
	second, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken || k.TokenRequests() != 2 {
		t.Fatalf("after the refresh point: new token %v, requests %d; want a new token from exactly one more request",
			second.AccessToken != first.AccessToken, k.TokenRequests())
	}
	if !second.IssuedAt.Equal(clock.Now()) {
		t.Errorf("new token issued at %v, want the local clock %v", second.IssuedAt, clock.Now())
	}
}

func TestSource_200ConcurrentCallers_OneTokenRequest(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	s, _ := newKeyshiftSource(t, k, newClock(), nil)
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		tokens = make([]string, 200)
		errs   = make([]error, 200)
	)
	for i := range 200 {
		wg.Go(func() {
			<-start
			tok, err := s.Current(context.Background())
			errs[i] = err
			if err == nil {
				tokens[i] = tok.AccessToken
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range 200 {
		if errs[i] != nil || tokens[i] != tokens[0] {
			t.Fatalf("caller %d: err %v, same token %v", i, errs[i], tokens[i] == tokens[0])
		}
	}
	if n := k.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
}

func TestSource_EndpointDownInRefreshWindow_ServesOldTokenBacksOffRecovers(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	clock := newClock()
	var (
		mu       sync.Mutex
		failures []time.Time
	)
	s, _ := newKeyshiftSource(t, k, clock, func(c *Config) {
		c.OnEvent = func(e Event) {
			if e.Type == EventFailed {
				mu.Lock()
				failures = append(failures, clock.Now())
				mu.Unlock()
			}
		}
	})
	ctx := context.Background()
	old, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k.SetDown(true)
	clock.Advance(old.RefreshAt.Sub(clock.Now()) + time.Second)

	// Thirty simulated minutes, a call every three seconds: every call gets
	// the old token, and the failing requests thin out exponentially.
	for range 30 * 60 / 3 {
		got, err := s.Current(ctx)
		if err != nil || got.AccessToken != old.AccessToken {
			t.Fatalf("while the endpoint is down: err %v, old token %v", err, got != nil && got.AccessToken == old.AccessToken)
		}
		waitIdle(t, s)
		clock.Advance(3 * time.Second)
	}
	mu.Lock()
	attempts := len(failures)
	gaps := make([]time.Duration, 0, attempts)
	for i := 1; i < attempts; i++ {
		gaps = append(gaps, failures[i].Sub(failures[i-1]))
	}
	mu.Unlock()
	// 1 s doubling to 5 min with equal jitter: about 14 attempts in 30 min.
	if attempts < 6 || attempts > 20 || int64(attempts) != k.TokenRequests()-1 {
		t.Fatalf("attempts in 30 min = %d (server saw %d), want a bounded backoff (6..20)", attempts, k.TokenRequests()-1)
	}
	for i, g := range gaps {
		if g > 5*time.Minute+time.Second {
			t.Errorf("gap %d = %v exceeds MaxBackoff", i, g)
		}
	}
	if gaps[len(gaps)-1] < 2*time.Minute {
		t.Errorf("last gap %v: backoff did not grow toward MaxBackoff (gaps %v)", gaps[len(gaps)-1], gaps)
	}
	if !errors.Is(s.lastErr, ErrUnreachable) {
		t.Errorf("last error = %v, want ErrUnreachable", s.lastErr)
	}

	k.SetDown(false)
	clock.Advance(5 * time.Minute)
	if _, err := s.Current(ctx); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s)
	fresh, err := s.Current(ctx)
	if err != nil || fresh.AccessToken == old.AccessToken {
		t.Fatalf("after the endpoint came back: err %v, new token %v", err, fresh != nil && fresh.AccessToken != old.AccessToken)
	}
}

func TestSource_RotatedSecret_InvalidClient(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	s, c := newKeyshiftSource(t, k, newClock(), nil)
	if _, err := s.Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	k.RotateSecret(t, c.ID)
	s.Invalidate()
	_, err := s.Current(context.Background())
	var e *Error
	if !errors.Is(err, ErrInvalidClient) || !errors.As(err, &e) {
		t.Fatalf("err = %v, want ErrInvalidClient", err)
	}
	if e.Status != 401 || e.ClientID != c.ID || !strings.Contains(e.Fix(), "rotated") {
		t.Errorf("error = %+v; want HTTP 401, the client id and a fix that mentions rotation", e)
	}
	if strings.Contains(err.Error(), c.Secret) {
		t.Error("the error message contains the secret")
	}
	// A second caller within the backoff gets the same answer without a
	// new request.
	n := k.TokenRequests()
	if _, err2 := s.Current(context.Background()); !errors.Is(err2, ErrInvalidClient) || k.TokenRequests() != n {
		t.Errorf("during backoff: err %v, requests %d -> %d", err2, n, k.TokenRequests())
	}
}

func TestSource_ScopeNotOnClient_InvalidScopeNamesIt(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	s, _ := newKeyshiftSource(t, k, newClock(), func(c *Config) {
		c.Scopes = []string{"core.invoice.read", "core.supplier.write"}
	})
	_, err := s.Current(context.Background())
	var e *Error
	if !errors.Is(err, ErrInvalidScope) || !errors.As(err, &e) {
		t.Fatalf("err = %v, want ErrInvalidScope", err)
	}
	if !strings.Contains(e.Fix(), "core.supplier.write") {
		t.Errorf("fix %q does not name the refused scope", e.Fix())
	}
}

func TestSource_ClientSecretPostAndDiscovery(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "client_secret_post")
	s, err := New(Config{Issuer: k.URL, ClientID: c.ID, ClientSecret: c.Secret, AuthMethod: AuthClientSecretPost,
		Scopes: c.Scopes, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Metadata(context.Background())
	if m.TokenEndpoint != k.TokenURL || m.JWKSURI == "" {
		t.Errorf("metadata = %+v", m)
	}
	if strings.Join(tok.Scopes, " ") != strings.Join(c.Scopes, " ") {
		t.Errorf("granted scopes %v, want %v", tok.Scopes, c.Scopes)
	}
}

// An integrator who configured an issuer is told to check the issuer, not a
// token URL they never gave.
func TestCurrent_IssuerUnreachable_FixNamesTheIssuer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	src, err := New(Config{Issuer: issuer, ClientID: "erp-sync", ClientSecret: "kss_x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Current(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnreachable {
		t.Fatalf("err = %v, want unreachable", err)
	}
	if fix := e.Fix(); !strings.Contains(fix, "issuer URL "+issuer) || strings.Contains(fix, "token URL") {
		t.Errorf("fix = %q, want the issuer named and no token URL", fix)
	}
}
