package guard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/guard"
)

// The introspection endpoint below is a fake answering in DESIGN.md's
// shape, for what the real one cannot easily be made to do (fail, answer
// slowly, count calls). RemoteKeys against keyshift's real introspection of
// keys is tested in internal/gateway (TestGateway_LegacyKeys_InProcessAndRemote);
// the cases here need the fake.

const (
	guide    = "https://docs.example.com/oauth-migration"
	deprAt   = "2026-03-01T00:00:00Z"
	sunsetAt = "2026-09-01T00:00:00Z"
)

type introspector struct {
	*httptest.Server
	calls  atomic.Int64
	delay  time.Duration
	mu     sync.Mutex
	answer map[string]string // key → JSON answer; missing: inactive unknown
	status int
}

func newIntrospector(t *testing.T) *introspector {
	in := &introspector{answer: map[string]string{}, status: 200}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.calls.Add(1)
		time.Sleep(in.delay)
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id) // RFC 6749 §2.3.1
		secret, _ = url.QueryUnescape(secret)
		if !ok || id != "rs-client" || secret != "kss_rs secret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		if r.PostFormValue("token_type_hint") != "api_key" {
			http.Error(w, "want token_type_hint=api_key", 400)
			return
		}
		in.mu.Lock()
		a, st := in.answer[r.PostFormValue("token")], in.status
		in.mu.Unlock()
		if st != 200 {
			w.WriteHeader(st)
			return
		}
		if a == "" {
			a = `{"active":false,"decision":"api_key_unknown"}`
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(a))
	}))
	t.Cleanup(in.Close)
	return in
}

func keyAnswer(decision string, perms ...string) string {
	b, _ := json.Marshal(map[string]any{
		"active": decision == "accepted", "token_type": "api_key", "tenant": "acme", "key_id": "key_1",
		"permissions": perms, "scope": "core.invoice.read", "decision": decision,
		"deprecation": deprAt, "sunset": sunsetAt, "migration_guide_url": guide,
	})
	return string(b)
}

const (
	keyRead    = "legacy-key-0000000000000000000000read"
	keyAll     = "legacy-key-00000000000000000000000all"
	keySunset  = "legacy-key-0000000000000000000sunset"
	keyBrown   = "legacy-key-000000000000000000brownout"
	keyOff     = "legacy-key-0000000000000000disabled"
	keyExpired = "legacy-key-00000000000000000expired"
)

func keyGuard(t *testing.T, in *introspector, clk *clock) *guard.Guard {
	in.answer[keyRead] = keyAnswer("accepted", "invoices:read")
	in.answer[keyAll] = keyAnswer("accepted")
	in.answer[keySunset] = keyAnswer("api_key_sunset", "invoices:read")
	in.answer[keyBrown] = keyAnswer("api_key_brownout")
	in.answer[keyOff] = keyAnswer("api_key_disabled")
	in.answer[keyExpired] = keyAnswer("api_key_expired")
	if clk == nil {
		clk = &clock{t: time.Now()}
	}
	return newGuard(t, guard.Config{
		Issuer: "https://auth.example.com", JWKSURL: "https://auth.example.com/.well-known/jwks.json",
		KeyChecker: guard.RemoteKeys(in.URL, "rs-client", "kss_rs secret", time.Minute),
		Now:        clk.now, Logger: quiet(),
	})
}

func checkDeprecationHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Deprecation": "@1772323200",
		"Sunset":      "Tue, 01 Sep 2026 00:00:00 GMT",
		"Link":        `<` + guide + `>; rel="deprecation"; type="text/html", <` + guide + `>; rel="sunset"; type="text/html"`,
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestGuard_AcceptedKey_ReachesHandlerWithDeprecationHeaders(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	g := keyGuard(t, in, nil)
	route := g.Protect(guard.Requirement{Scopes: []string{"core.invoice.read"}, Permissions: []string{"invoices:read"}})(echo)
	for _, key := range []string{keyRead, keyAll} {
		w := call(route, "X-API-Key", key)
		if w.Code != 200 || w.Body.String() != "api_key|acme||key_1|core.invoice.read" {
			t.Fatalf("%s: %d %q", key, w.Code, w.Body)
		}
		checkDeprecationHeaders(t, w.Header())
	}
}

func TestGuard_RefusedKeys_JSONWithReasonDateAndGuide(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	g := keyGuard(t, in, nil)
	route := g.Protect(guard.Requirement{Permissions: []string{"invoices:read"}})(echo)
	cases := []struct {
		name, key, code string
		status          int
		signals         bool
	}{
		{"sunset", keySunset, "api_key_sunset", 401, true},
		{"brownout", keyBrown, "api_key_brownout", 401, true},
		{"disabled", keyOff, "api_key_disabled", 401, true},
		{"expired", keyExpired, "api_key_expired", 401, true},
		{"unknown", "no-such-key-000000000000000000000", "api_key_unknown", 401, false},
		{"malformed", "has space inside", "api_key_unknown", 401, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := call(route, "X-API-Key", tc.key)
			if w.Code != tc.status || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Header().Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("challenge %q", w.Header().Get("WWW-Authenticate"))
			}
			if body["error"] != tc.code || body["error_description"] == "" {
				t.Errorf("body %v", body)
			}
			if tc.signals {
				if body["sunset"] != sunsetAt || body["migration_guide_url"] != guide {
					t.Errorf("body %v lacks sunset or guide", body)
				}
				checkDeprecationHeaders(t, w.Header())
			}
		})
	}
}

func TestGuard_KeyLackingPermission_Forbidden(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	g := keyGuard(t, in, nil)
	for name, req := range map[string]guard.Requirement{
		"permission": {Scopes: []string{"core.invoice.write"}, Permissions: []string{"invoices:create"}},
		"scope only": {Scopes: []string{"core.invoice.write"}},
	} {
		w := call(g.Protect(req)(echo), "X-API-Key", keyRead)
		if w.Code != 403 || !strings.Contains(w.Body.String(), `"error":"insufficient_permission"`) {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
		checkDeprecationHeaders(t, w.Header())
		// A key for all APIs passes either.
		if w := call(g.Protect(req)(echo), "X-API-Key", keyAll); w.Code != 200 {
			t.Errorf("%s, all-APIs key: %d", name, w.Code)
		}
	}
}

func TestRemoteKeys_CachesAnswersAndRefusals_ForTheTTL(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	clk := &clock{t: time.Now()}
	g := keyGuard(t, in, clk)
	h := g.Require()(echo)
	for range 5 {
		call(h, "X-API-Key", keyRead)
		call(h, "X-API-Key", "unknown-key-00000000000000000")
	}
	if n := in.calls.Load(); n != 2 {
		t.Fatalf("%d introspection calls for 2 keys, want 2", n)
	}
	in.mu.Lock()
	in.answer[keyRead] = keyAnswer("api_key_disabled")
	in.mu.Unlock()
	if w := call(h, "X-API-Key", keyRead); w.Code != 200 {
		t.Fatalf("within the TTL: %d", w.Code)
	}
	clk.t = clk.t.Add(time.Minute + time.Second)
	if w := call(h, "X-API-Key", keyRead); w.Code != 401 || !strings.Contains(w.Body.String(), "api_key_disabled") {
		t.Fatalf("after the TTL: %d %s", w.Code, w.Body)
	}
}

func TestRemoteKeys_ConcurrentMisses_OneCall(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	in.delay = 50 * time.Millisecond
	g := keyGuard(t, in, nil)
	h := g.Require()(echo)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if w := call(h, "X-API-Key", keyRead); w.Code != 200 {
				t.Errorf("status %d", w.Code)
			}
		})
	}
	wg.Wait()
	if n := in.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestRemoteKeys_EndpointFailing_503NotCached(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	g := keyGuard(t, in, nil)
	in.status = 500
	h := g.Require()(echo)
	if w := call(h, "X-API-Key", keyRead); w.Code != 503 || !strings.Contains(w.Body.String(), "api_key_unavailable") {
		t.Fatalf("failing endpoint: %d %s", w.Code, w.Body)
	}
	in.mu.Lock()
	in.status = 200
	in.mu.Unlock()
	if w := call(h, "X-API-Key", keyRead); w.Code != 200 {
		t.Fatalf("recovered endpoint: %d %s", w.Code, w.Body)
	}
}

func TestRemoteKeys_TokenInKeyHeader_Unknown(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t)
	g := keyGuard(t, in, nil)
	in.answer["eyJhbGciOi.token.sent-as-key"] = `{"active":true,"token_type":"Bearer","tenant":"acme","scope":"core.invoice.read"}`
	if w := call(g.Require()(echo), "X-API-Key", "eyJhbGciOi.token.sent-as-key"); w.Code != 401 || !strings.Contains(w.Body.String(), "api_key_unknown") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}

func TestGuard_TokenAndKey_TokenWins(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	in := newIntrospector(t)
	cfg := is.guardConfig()
	cfg.KeyChecker = guard.RemoteKeys(in.URL, "rs-client", "kss_rs secret", 0)
	cfg.APIKeyHeader = "X-COUPA-API-KEY"
	g := newGuard(t, cfg)
	w := call(g.Require()(echo), "Authorization", "Bearer "+is.token(t), "X-Coupa-Api-Key", keySunset)
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "token|") || w.Header().Get("Sunset") != "" {
		t.Fatalf("got %d %s %v", w.Code, w.Body, w.Header())
	}
	if in.calls.Load() != 0 {
		t.Fatal("the key was looked up although a token was sent")
	}
}
