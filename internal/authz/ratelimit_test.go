package authz

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestFailureLimiter_BlocksAfterBurstAndRefills(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(rate.Every(6*time.Second), 3, 100)
	for i := range 3 {
		if _, blocked := l.blocked("k", now); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail("k", now)
	}
	wait, blocked := l.blocked("k", now)
	if !blocked || wait < 5*time.Second || wait > 6*time.Second {
		t.Fatalf("after burst: blocked=%v wait=%v", blocked, wait)
	}
	if _, blocked := l.blocked("other", now); blocked {
		t.Fatal("other key blocked")
	}
	if _, blocked := l.blocked("k", now.Add(6*time.Second)); blocked {
		t.Fatal("still blocked after refill")
	}
}

func TestFailureLimiter_BoundedMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(rate.Every(time.Second), 2, 10)
	for i := range 50 {
		l.fail(string(rune('a'+i)), now)
	}
	if l.size() > 10 {
		t.Fatalf("tracked %d keys, max 10", l.size())
	}
	// Once buckets refill, a sweep makes room again.
	later := now.Add(time.Minute)
	l.sweepAll(later)
	if l.size() != 0 {
		t.Fatalf("tracked %d keys after sweep", l.size())
	}
}

func TestFailureLimiter_DisabledIsNil(t *testing.T) {
	l := newFailureLimiter(1, -1, 10)
	l.fail("k", time.Now())
	if _, blocked := l.blocked("k", time.Now()); blocked {
		t.Fatal("disabled limiter blocked")
	}
}

func TestToken_FailuresPerClientIDThrottleFailuresNotTheRightSecret(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 5, rate.Every(6*time.Second) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	other := e.client("acme", []string{"a.b.read"})
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	wrong := testClient{ID: c.ID, Secret: other.Secret}
	// Each failure from another address, so only the per-client limit sees
	// all of them.
	for i := range 5 {
		from := "127.0.0." + strconv.Itoa(10+i)
		if r := e.postFrom(from, oauth.PathToken, &wrong, grant); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.postFrom("127.0.0.20", oauth.PathToken, &wrong, grant)
	if r.status != http.StatusTooManyRequests || r.str("error") != oauth.CodeInvalidClient || r.header.Get("Retry-After") == "" {
		t.Fatalf("wrong secret after 5 failures: %d %v %s", r.status, r.header, r.body)
	}
	// Secrets carry 256 random bits: the right one is never refused.
	if r := e.postFrom("127.0.0.20", oauth.PathToken, &c, grant); r.status != http.StatusOK {
		t.Fatalf("right secret after 5 failures: %d %s", r.status, r.body)
	}
	if r := e.post(oauth.PathToken, &other, grant); r.status != http.StatusOK {
		t.Fatalf("another client throttled: %d %s", r.status, r.body)
	}
	// One failure refills every 6 s.
	e.clock.Advance(6 * time.Second)
	if r := e.post(oauth.PathToken, &wrong, grant); r.status != http.StatusUnauthorized {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
	if counter(t, e, "keyshift_client_auth_throttled_total", "token") != 1 {
		t.Fatal("throttled request not counted")
	}
}

func TestToken_FailuresPerAddressThrottleFailuresOfEveryClient(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 5, rate.Every(6*time.Second) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	for i := range 5 {
		// Unknown client ids: only the address limit can count these.
		unknown := testClient{ID: "ksc_guess" + strconv.Itoa(i), Secret: c.Secret}
		if r := e.post(oauth.PathToken, &unknown, grant); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	wrong := testClient{ID: c.ID, Secret: credential.New(credential.PrefixClientSecret)}
	for _, path := range []string{oauth.PathToken, oauth.PathIntrospect, oauth.PathRevoke} {
		vals := url.Values{"grant_type": {oauth.GrantClientCredentials}, "token": {"x"}}
		if r := e.post(path, &wrong, vals); r.status != http.StatusTooManyRequests {
			t.Fatalf("%s: a failure from a throttled address: %d %s", path, r.status, r.body)
		}
		// Every client behind one NAT keeps working with its own secret.
		if r := e.post(path, &c, vals); r.status != http.StatusOK {
			t.Fatalf("%s: right secret from a throttled address: %d %s", path, r.status, r.body)
		}
	}
	e.clock.Advance(6 * time.Second)
	if r := e.post(oauth.PathToken, &wrong, grant); r.status != http.StatusUnauthorized {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
}

// postFrom is env.post from another loopback source address.
func (e *env) postFrom(ip, path string, c *testClient, vals url.Values) reply {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basicOf(c.ID, c.Secret))
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("post from %s: %v", ip, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return reply{status: resp.StatusCode, header: resp.Header, json: body}
}
