package guard_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/guard"
)

var b64 = base64.RawURLEncoding

// forge returns token with its header replaced and signed by sign (nil:
// empty signature).
func forge(t *testing.T, token string, header map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	parts := strings.Split(token, ".")
	hb, _ := json.Marshal(header)
	input := b64.EncodeToString(hb) + "." + parts[1]
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

func headerOf(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := b64.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func jwksBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestGuard_TokenFromTokenEndpoint_ReachesHandlerWithPrincipal(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	g := newGuard(t, is.guardConfig())
	w := call(g.Require("core.invoice.read")(echo), "Authorization", "Bearer "+is.token(t))
	want := "token|acme|" + is.clientID + "||core.invoice.read"
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("got %d %q, want 200 %q", w.Code, w.Body, want)
	}
	// Case-insensitive scheme, extra spaces (RFC 6750 §2.1, RFC 9110 §11.1).
	if w := call(g.Require()(echo), "Authorization", "bEaReR   "+is.token(t)); w.Code != 200 {
		t.Fatalf("lower-case scheme: %d %s", w.Code, w.Body)
	}
}

func TestGuard_RefusedTokens_InvalidToken(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	other := newIssuer(t)
	good := is.token(t)
	hdr := headerOf(t, good)
	kid := hdr["kid"]
	jwks := jwksBody(t, is.URL)
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v", err)
	}
	hmacWith := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(in); return m.Sum(nil) }
	}
	parts := strings.Split(good, ".")
	payload, _ := b64.DecodeString(parts[1])
	tampered := parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(string(payload),
		`"scope":"core.invoice.read"`, `"scope":"core.invoice.read core.invoice.write"`, 1))) + "." + parts[2]
	if tampered == good {
		t.Fatal("tampering changed nothing")
	}
	later := &clock{t: time.Now().Add(25 * time.Hour)}

	cases := []struct {
		name  string
		token string
		cfg   func(*guard.Config)
		why   string // in error_description: refused for the right reason
	}{
		{"from another issuer, unknown key", other.token(t), nil, "unknown key"},
		{"from another issuer, its own key set", other.token(t), func(c *guard.Config) { c.JWKSURL = other.URL + "/.well-known/jwks.json" }, "another issuer"},
		{"alg none", forge(t, good, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}, nil), nil, "refused algorithm"},
		{"HS256 signed with the public JWK", forge(t, good, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, hmacWith(set.Keys[0])), nil, "refused algorithm"},
		{"HS256 signed with the whole JWKS", forge(t, good, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, hmacWith(jwks)), nil, "refused algorithm"},
		{"tampered payload", tampered, nil, "signature is invalid"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(is.token(t), ".")[2], nil, "signature is invalid"},
		{"expired", good, func(c *guard.Config) { c.Now = later.now }, "expired"},
		{"wrong audience", good, func(c *guard.Config) { c.Audience = "https://api.other.example" }, "not meant for this API"},
		{"typ JWT instead of at+jwt", forge(t, good, map[string]any{"alg": hdr["alg"], "typ": "JWT", "kid": kid}, nil), nil, "not an access token"},
		{"not a JWT", "abc.def", nil, "malformed"},
		{"space inside", good[:20] + " " + good[20:], nil, "malformed"},
		{"not token68", good + "\"", nil, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := is.guardConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			g := newGuard(t, cfg)
			w := call(g.Require()(echo), "Authorization", "Bearer "+tc.token)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d %s, want 401", w.Code, w.Body)
			}
			if ch := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="api", error="invalid_token", error_description="`) || !strings.Contains(ch, tc.why) {
				t.Errorf("WWW-Authenticate = %q", ch)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("refusal is cacheable")
			}
		})
	}
}

func TestGuard_NoCredentials_ChallengeWithoutError(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	g := newGuard(t, is.guardConfig())
	for _, hdr := range [][]string{nil, {"Authorization", "Basic dXNlcjpwYXNz"}} {
		w := call(g.Require()(echo), hdr...)
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="api"` {
			t.Errorf("%v: %d %q", hdr, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	w := call(g.Require()(echo), "Authorization", "Bearer ")
	if w.Code != 400 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Errorf("empty bearer: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	w = call(g.Require()(echo), "X-API-Key", "ksk_whatever_key_1234567")
	if w.Code != 401 || !strings.Contains(w.Body.String(), "not accepted") {
		t.Errorf("key without a key checker: %d %s", w.Code, w.Body)
	}
}

func TestGuard_TokenLackingScope_InsufficientScope(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	g := newGuard(t, is.guardConfig())
	w := call(g.Require("core.invoice.read", "core.invoice.write")(echo), "Authorization", "Bearer "+is.token(t))
	want := `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a scope this request needs", scope="core.invoice.read core.invoice.write"`
	if w.Code != 403 || w.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("got %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

func TestGuard_ExpiryHonouredOnCachedToken(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	clk := &clock{t: time.Now()}
	cfg := is.guardConfig()
	cfg.Now = clk.now
	g := newGuard(t, cfg)
	tok := is.token(t)
	h := g.Require()(echo)
	if w := call(h, "Authorization", "Bearer "+tok); w.Code != 200 {
		t.Fatalf("fresh: %d", w.Code)
	}
	clk.t = clk.t.Add(24*time.Hour + 20*time.Second) // inside the 30 s leeway
	if w := call(h, "Authorization", "Bearer "+tok); w.Code != 200 {
		t.Fatalf("within leeway: %d", w.Code)
	}
	clk.t = clk.t.Add(11 * time.Second)
	if w := call(h, "Authorization", "Bearer "+tok); w.Code != 401 {
		t.Fatalf("expired but cached: %d", w.Code)
	}
}

// status is an in-memory TokenStatus, as keyshift feeds it from its change
// feed.
type status struct {
	mu       sync.RWMutex
	revoked  map[string]bool
	disabled map[string]bool
}

func (s *status) Revoked(jti string) bool { s.mu.RLock(); defer s.mu.RUnlock(); return s.revoked[jti] }
func (s *status) ClientActive(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.disabled[id]
}

func TestGuard_RevokedTokenAndDisabledClient_RefusedAtOnceThoughCached(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	st := &status{revoked: map[string]bool{}, disabled: map[string]bool{}}
	cfg := is.guardConfig()
	cfg.TokenStatus = st
	g := newGuard(t, cfg)
	tok, other := is.token(t), is.token(t)
	for _, tk := range []string{tok, other} {
		if _, err := g.VerifyToken(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := g.VerifyToken(context.Background(), tok)
	st.mu.Lock()
	st.revoked[p.TokenID] = true
	st.mu.Unlock()
	if w := call(g.Require()(echo), "Authorization", "Bearer "+tok); w.Code != 401 || !strings.Contains(w.Body.String(), "revoked") {
		t.Fatalf("revoked: %d %s", w.Code, w.Body)
	}
	if w := call(g.Require()(echo), "Authorization", "Bearer "+other); w.Code != 200 {
		t.Fatalf("other token: %d", w.Code)
	}
	st.mu.Lock()
	st.disabled[is.clientID] = true
	st.mu.Unlock()
	if w := call(g.Require()(echo), "Authorization", "Bearer "+other); w.Code != 401 || !strings.Contains(w.Body.String(), "disabled") {
		t.Fatalf("disabled client: %d %s", w.Code, w.Body)
	}
}

// Rotation mid-traffic: requests keep flowing with old and new tokens
// while the issuer rotates its signing key twice (the second time to a key
// the guard has never seen); nothing valid is refused.
func TestGuard_RotationMidTraffic_RefusesNothingValid(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	cfg := is.guardConfig()
	cfg.JWKSMinRefresh = 20 * time.Millisecond
	g := newGuard(t, cfg)
	h := g.Require("core.invoice.read")(echo)

	var (
		mu     sync.Mutex
		tokens = []string{is.token(t)}
		stop   atomic.Bool
		served atomic.Int64
		wg     sync.WaitGroup
		failed = make(chan string, 100)
	)
	for range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				mu.Lock()
				tok := tokens[i%len(tokens)]
				mu.Unlock()
				if w := call(h, "Authorization", "Bearer "+tok); w.Code != 200 {
					select {
					case failed <- w.Body.String():
					default:
					}
				}
				served.Add(1)
			}
		})
	}
	for range 2 {
		time.Sleep(30 * time.Millisecond)
		is.rotate(t)
		tok := is.token(t)
		mu.Lock()
		tokens = append(tokens, tok)
		mu.Unlock()
	}
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("refused during rotation: %s", f)
	}
	kids := map[any]bool{}
	for _, tk := range tokens {
		kids[headerOf(t, tk)["kid"]] = true
	}
	if len(kids) != 3 || served.Load() < 10 {
		t.Fatalf("kids %d, served %d: the test did not rotate under traffic", len(kids), served.Load())
	}
}
