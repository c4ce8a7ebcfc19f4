package authz

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// peer starts a second authorization server on e's store, keys and clock:
// another instance of the same deployment.
func (e *env) peer() *env {
	e.t.Helper()
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	e.t.Cleanup(ts.Close)
	cfg := e.srv.cfg
	cfg.Registerer = prometheus.NewRegistry()
	srv, err := New(cfg, e.st, e.keys)
	if err != nil {
		e.t.Fatalf("peer: %v", err)
	}
	srv.Register(mux)
	if err := srv.Start(e.ctx); err != nil {
		e.t.Fatalf("peer start: %v", err)
	}
	p := *e
	p.srv, p.ts = srv, ts
	return &p
}

// sharers returns the failure sharers of the given servers on e's store.
func sharers(e *env, envs ...*env) []*failureSharer {
	var out []*failureSharer
	for _, x := range envs {
		out = append(out, x.srv.newFailureSharer(e.st))
	}
	return out
}

func syncAll(t *testing.T, fss ...*failureSharer) {
	t.Helper()
	for _, fs := range fss {
		if err := fs.sync(context.Background()); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
}

func TestShareFailures_FailuresOnOneInstanceThrottleTheOthers(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 3, rate.Every(6*time.Second) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	other := e.client("acme", []string{"a.b.read"})
	b := e.peer()
	b.waitFor(func() bool { cl, _ := b.srv.clients.lookup(c.ID); return cl != nil })
	fs := sharers(e, e, b)
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	wrong := testClient{ID: c.ID, Secret: other.Secret}

	// Successes on both instances leave nothing to share.
	for range 3 {
		e.token(c, "")
		b.token(c, "")
	}
	syncAll(t, fs...)
	if rows, err := e.st.ListAuthFailures(e.ctx, time.Time{}, ""); err != nil || len(rows) != 0 {
		t.Fatalf("after successes only, stored failures = %v, %v; want none", rows, err)
	}

	// Three failures on A, each from another address so only the per-client
	// limit sees them all.
	for i := range 3 {
		if r := e.postFrom("127.0.0."+strconv.Itoa(10+i), oauth.PathToken, &wrong, grant); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d on A: %d", i, r.status)
		}
	}
	if r := b.postFrom("127.0.0.20", oauth.PathToken, &wrong, grant); r.status != http.StatusUnauthorized {
		t.Fatalf("B before sharing: %d; want 401 (B has not heard yet)", r.status)
	}
	syncAll(t, fs...)
	r := b.postFrom("127.0.0.21", oauth.PathToken, &wrong, grant)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("B after sharing: %d %v; want 429 with Retry-After", r.status, r.header)
	}
	// The right secret is never refused for failures.
	if r := b.postFrom("127.0.0.21", oauth.PathToken, &c, grant); r.status != http.StatusOK {
		t.Fatalf("right secret on B after sharing: %d; want 200", r.status)
	}
	// Sharing again adds nothing: only increments are absorbed, so B
	// refills as A does.
	syncAll(t, fs...)
	e.clock.Advance(6 * time.Second)
	for _, x := range []*env{e, b} {
		if r := x.postFrom("127.0.0.22", oauth.PathToken, &c, grant); r.status != http.StatusOK {
			t.Fatalf("after one refill period: %d; want 200", r.status)
		}
	}
}

func TestShareFailures_SpreadGuessesStillHitTheLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 4, rate.Every(time.Minute) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	other := e.client("acme", []string{"a.b.read"})
	b := e.peer()
	b.waitFor(func() bool { cl, _ := b.srv.clients.lookup(c.ID); return cl != nil })
	fs := sharers(e, e, b)
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	wrong := testClient{ID: c.ID, Secret: other.Secret}
	// Two failures on each instance: neither alone reaches the burst of 4.
	for i, x := range []*env{e, b, e, b} {
		if r := x.postFrom("127.0.0."+strconv.Itoa(30+i), oauth.PathToken, &wrong, grant); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	syncAll(t, fs...)
	syncAll(t, fs...) // A hears B's failures on its second sync
	for name, x := range map[string]*env{"A": e, "B": b} {
		if r := x.postFrom("127.0.0.40", oauth.PathToken, &wrong, grant); r.status != http.StatusTooManyRequests {
			t.Errorf("%s after 4 failures spread over two instances: %d; want 429", name, r.status)
		}
		if r := x.postFrom("127.0.0.40", oauth.PathToken, &c, grant); r.status != http.StatusOK {
			t.Errorf("%s: right secret after the limit: %d; want 200", name, r.status)
		}
	}
}

func TestFailureLimiter_AbsorbDrainsToEmptyOnly(t *testing.T) {
	now := time.Now()
	l := newFailureLimiter(rate.Every(time.Second), 5, 10)
	l.absorb("k", 100, now)
	if _, blocked := l.blocked("k", now); !blocked {
		t.Fatal("not blocked after absorbing 100 failures")
	}
	// Drained to empty, not below: one refill period frees one failure.
	if _, blocked := l.blocked("k", now.Add(time.Second)); blocked {
		t.Fatal("still blocked one refill period later; absorb pushed the bucket below empty")
	}
	l.share()
	l.fail("x", now)
	l.fail("x", now)
	if p := l.takePending(); p["x"] != 2 || len(p) != 1 {
		t.Fatalf("pending = %v; want x:2 (absorbed failures are not shared again)", p)
	}
	l.restorePending(map[string]int64{"x": 2})
	if p := l.takePending(); p["x"] != 2 {
		t.Fatalf("restored pending = %v; want x:2", p)
	}
}

func TestShareFailures_StoreDown_CountsKeptForNextFlush(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 3, rate.Every(6*time.Second) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	other := e.client("acme", []string{"a.b.read"})
	path := filepath.Join(t.TempDir(), "shared.db")
	down, err := sqlite.Open(e.ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := e.srv.newFailureSharer(down)
	_ = down.Close()
	wrong := testClient{ID: c.ID, Secret: other.Secret}
	e.post(oauth.PathToken, &wrong, url.Values{"grant_type": {oauth.GrantClientCredentials}})
	if err := fs.sync(e.ctx); err == nil {
		t.Fatal("sync on a closed store succeeded")
	}
	up, err := sqlite.Open(e.ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	fs.st = up
	if err := fs.sync(e.ctx); err != nil {
		t.Fatalf("sync after the store is back: %v", err)
	}
	rows, err := up.ListAuthFailures(e.ctx, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r.Key] += r.Count
	}
	if got[failurePrefixClient+c.ID] != 1 || len(got) != 2 {
		t.Fatalf("flushed after the outage: %v; want the client's and the address's one failure", got)
	}
}

// TestShareFailures_SignInFailuresThrottleTheAccountEverywhere: failed
// sign-ins of one account on instance A throttle it on instance B (the
// documented "shared between instances"), and what was typed is stored
// only as a hash.
func TestShareFailures_SignInFailuresThrottleTheAccountEverywhere(t *testing.T) {
	e := newOIDCEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 3, rate.Every(time.Hour) })
	c := e.webClient("acme", webRedirect)
	b := e.peer()
	fs := sharers(e, e, b)
	try := func(x *env, from, login, pw string) int {
		t.Helper()
		br := newBrowserFrom(t, x.ts.URL, from)
		action, f := x.loginForm(br, c)
		f.Set("login", login)
		f.Set("password", pw)
		resp, err := br.noFollow().PostForm(x.ts.URL+action, f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		if s := try(e, fmt.Sprintf("127.0.0.%d", 60+i), "alice", "typed-secret-"+fmt.Sprint(i)); s != http.StatusBadRequest {
			t.Fatalf("failure %d on A: %d", i, s)
		}
	}
	syncAll(t, fs...)
	syncAll(t, fs...)
	if s := try(b, "127.0.0.70", "alice", alicePassword); s != http.StatusTooManyRequests {
		t.Fatalf("alice on B after 3 failures on A: %d; want 429", s)
	}
	rows, err := e.st.ListAuthFailures(e.ctx, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if strings.Contains(r.Key, "alice") || strings.Contains(r.Key, "typed-secret") {
			t.Fatalf("stored failure key %q holds what was typed", r.Key)
		}
	}
}
