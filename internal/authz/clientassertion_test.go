package authz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// assertionKey is a client's signing key for private_key_jwt.
type assertionKey struct {
	alg  jose.SignatureAlgorithm
	kid  string
	priv crypto.Signer
}

// Keys are generated once: RSA generation is slow under the race detector.
var (
	keysOnce sync.Once
	testKeys map[string]assertionKey
)

func genKeys(t testing.TB) map[string]assertionKey {
	t.Helper()
	keysOnce.Do(func() {
		rsa1, err1 := rsa.GenerateKey(rand.Reader, 2048)
		rsa2, err2 := rsa.GenerateKey(rand.Reader, 2048)
		ec1, err3 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ec2, err4 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, ed1, err5 := ed25519.GenerateKey(rand.Reader)
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				panic(err)
			}
		}
		testKeys = map[string]assertionKey{
			"rs256": {jose.RS256, "rsa-1", rsa1},
			"ps256": {jose.PS256, "rsa-1", rsa1},
			"rsa2":  {jose.RS256, "rsa-2", rsa2},
			"es256": {jose.ES256, "ec-1", ec1},
			"ec2":   {jose.ES256, "ec-2", ec2},
			"eddsa": {jose.EdDSA, "ed-1", ed1},
		}
	})
	return testKeys
}

func (k assertionKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig"}
}

func jwksOf(t testing.TB, keys ...assertionKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign makes a compact JWS of claims with k; kid "" leaves the header
// without one.
func (k assertionKey) sign(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	return k.signTyp(t, kid, "JWT", claims)
}

func (k assertionKey) signTyp(t testing.TB, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsFor are valid assertion claims of client id at the env's now.
func (e *env) claimsFor(id string) map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": id, "sub": id, "aud": e.ts.URL + oauth.PathToken,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": newTestJTI(),
	}
}

func newTestJTI() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwtClient creates an active private_key_jwt client of acme with the
// client_credentials grant; mod may change it further.
func (e *env) jwtClient(mod func(*store.Client)) string {
	e.t.Helper()
	c := e.client("acme", []string{"core.invoice.read"}, func(c *store.Client) {
		c.AuthMethod, c.Secrets = oauth.AuthPrivateKeyJWT, nil
		mod(c)
	})
	return c.ID
}

// assertionForm is a client_credentials request authenticated by assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type": {oauth.GrantClientCredentials}, "client_assertion_type": {oauth.ClientAssertionTypeJWT},
		"client_assertion": {assertion},
	}
}

func wantInvalidClient(t *testing.T, r reply) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.str("error") != oauth.CodeInvalidClient || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("got %d %s, want 401 invalid_client with a challenge", r.status, r.body)
	}
}

func TestPrivateKeyJWT_GoodAssertionAcceptedOnce(t *testing.T) {
	keys := genKeys(t)
	for _, name := range []string{"rs256", "ps256", "es256", "eddsa"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.tenant("acme", store.StatusActive)
			k := keys[name]
			id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k, keys["ec2"]) })
			a := k.sign(t, k.kid, e.claimsFor(id))
			r := e.post(oauth.PathToken, nil, assertionForm(a))
			if r.status != http.StatusOK {
				t.Fatalf("first use: %d %s", r.status, r.body)
			}
			if sub := jwtClaims(t, r.str("access_token"))["sub"]; sub != id {
				t.Errorf("token sub = %v, want %s", sub, id)
			}
			wantInvalidClient(t, e.post(oauth.PathToken, nil, assertionForm(a)))
		})
	}
}

func TestPrivateKeyJWT_Refused(t *testing.T) {
	keys := genKeys(t)
	k := keys["es256"]
	tests := []struct {
		name string
		// make returns the request form for client id in e.
		make func(t *testing.T, e *env, id string) url.Values
		mod  func(*store.Client)
	}{
		{"wrong aud", claimsMod(func(c map[string]any, e *env) { c["aud"] = "https://elsewhere.example/token" }), nil},
		{"aud of another endpoint", claimsMod(func(c map[string]any, e *env) { c["aud"] = e.ts.URL + oauth.PathIntrospect }), nil},
		{"wrong iss", claimsMod(func(c map[string]any, _ *env) { c["iss"] = "ksc_other" }), nil},
		{"wrong sub with client_id", func(t *testing.T, e *env, id string) url.Values {
			c := e.claimsFor(id)
			c["sub"] = "ksc_other"
			f := assertionForm(k.sign(t, k.kid, c))
			f.Set("client_id", id)
			return f
		}, nil},
		{"client_id differs from sub", func(t *testing.T, e *env, id string) url.Values {
			f := assertionForm(k.sign(t, k.kid, e.claimsFor(id)))
			f.Set("client_id", "ksc_someoneelse")
			return f
		}, nil},
		{"expired", claimsMod(func(c map[string]any, e *env) { c["exp"] = e.clock.Now().Add(-61 * time.Second).Unix() }), nil},
		{"exp too far ahead", claimsMod(func(c map[string]any, e *env) { c["exp"] = e.clock.Now().Add(61*time.Minute + time.Second).Unix() }), nil},
		{"exp too far after iat", claimsMod(func(c map[string]any, e *env) {
			c["iat"] = e.clock.Now().Add(-5 * time.Minute).Unix()
			c["exp"] = e.clock.Now().Add(56*time.Minute + time.Second).Unix()
		}), nil},
		{"no exp", claimsMod(func(c map[string]any, _ *env) { delete(c, "exp") }), nil},
		{"nbf ahead", claimsMod(func(c map[string]any, e *env) { c["nbf"] = e.clock.Now().Add(2 * time.Minute).Unix() }), nil},
		{"iat ahead", claimsMod(func(c map[string]any, e *env) { c["iat"] = e.clock.Now().Add(2 * time.Minute).Unix() }), nil},
		{"no jti", claimsMod(func(c map[string]any, _ *env) { delete(c, "jti") }), nil},
		{"exp not a number", claimsMod(func(c map[string]any, _ *env) { c["exp"] = "soon" }), nil},
		{"alg none", func(t *testing.T, e *env, id string) url.Values {
			return assertionForm(unsignedJWT(t, map[string]any{"alg": "none"}, e.claimsFor(id)))
		}, nil},
		{"HS256 keyed with the public key", func(t *testing.T, e *env, id string) url.Values {
			pub, _ := json.Marshal(k.public())
			return assertionForm(hmacJWT(t, pub, k.kid, e.claimsFor(id)))
		}, nil},
		{"unknown kid", func(t *testing.T, e *env, id string) url.Values {
			return assertionForm(k.sign(t, "nope", e.claimsFor(id)))
		}, nil},
		{"unregistered key under a registered kid", func(t *testing.T, e *env, id string) url.Values {
			return assertionForm(keys["ec2"].sign(t, k.kid, e.claimsFor(id)))
		}, nil},
		{"unregistered key without kid", func(t *testing.T, e *env, id string) url.Values {
			return assertionForm(keys["rsa2"].sign(t, "", e.claimsFor(id)))
		}, nil},
		{"alg not matching the key's type", func(t *testing.T, e *env, id string) url.Values {
			return assertionForm(keys["rs256"].sign(t, k.kid, e.claimsFor(id)))
		}, func(c *store.Client) { c.JWKS = jwksOf(t, k, keys["rs256"]) }},
		{"typ of a DPoP proof", func(t *testing.T, e *env, id string) url.Values {
			return assertionForm(k.signTyp(t, k.kid, "dpop+jwt", e.claimsFor(id)))
		}, nil},
		{"garbage assertion", func(t *testing.T, e *env, id string) url.Values {
			f := assertionForm("not.a.jwt")
			f.Set("client_id", id)
			return f
		}, nil},
		{"unsupported assertion type", func(t *testing.T, e *env, id string) url.Values {
			f := assertionForm(k.sign(t, k.kid, e.claimsFor(id)))
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return f
		}, nil},
		{"client registered for secrets", okAssertion, func(c *store.Client) { c.AuthMethod = oauth.AuthClientSecretBasic }},
		{"disabled client", okAssertion, func(c *store.Client) { c.Status = store.StatusDisabled }},
		{"client without keys", okAssertion, func(c *store.Client) { c.JWKS = nil }},
		{"registered jwks holds a private key", okAssertion, func(c *store.Client) {
			priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv, KeyID: k.kid}}})
			c.JWKS = priv
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.tenant("acme", store.StatusActive)
			id := e.jwtClient(func(c *store.Client) {
				c.JWKS = jwksOf(t, k)
				if tt.mod != nil {
					tt.mod(c)
				}
			})
			wantInvalidClient(t, e.post(oauth.PathToken, nil, tt.make(t, e, id)))
			// The same client with a correct assertion still gets in, so
			// the refusal was about the assertion (or the client record).
			if tt.mod == nil {
				if r := e.post(oauth.PathToken, nil, okAssertion(t, e, id)); r.status != http.StatusOK {
					t.Fatalf("control assertion refused: %d %s", r.status, r.body)
				}
			}
		})
	}
}

// claimsMod returns a request builder signing the default claims after mod.
func claimsMod(mod func(map[string]any, *env)) func(*testing.T, *env, string) url.Values {
	return func(t *testing.T, e *env, id string) url.Values {
		k := genKeys(t)["es256"]
		c := e.claimsFor(id)
		mod(c, e)
		return assertionForm(k.sign(t, k.kid, c))
	}
}

func okAssertion(t *testing.T, e *env, id string) url.Values {
	k := genKeys(t)["es256"]
	return assertionForm(k.sign(t, k.kid, e.claimsFor(id)))
}

func unsignedJWT(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

func hmacJWT(t *testing.T, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

func TestPrivateKeyJWT_IssuerAsAudience_Accepted(t *testing.T) {
	k := genKeys(t)["eddsa"]
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k) })
	c := e.claimsFor(id)
	c["aud"] = []string{"https://other.example", e.ts.URL}
	if r := e.post(oauth.PathToken, nil, assertionForm(k.sign(t, "", c))); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestPrivateKeyJWT_ExplicitTyp_Accepted(t *testing.T) {
	k := genKeys(t)["es256"]
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k) })
	if r := e.post(oauth.PathToken, nil, assertionForm(k.signTyp(t, k.kid, "client-authentication+jwt", e.claimsFor(id)))); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestPrivateKeyJWT_FailuresAreRateLimitedGoodAssertionServed(t *testing.T) {
	k := genKeys(t)["es256"]
	e := newEnv(t, func(c *Config) { c.FailureBurst = 2 })
	e.tenant("acme", store.StatusActive)
	id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k) })
	bad := e.claimsFor(id)
	bad["aud"] = "https://elsewhere.example"
	for i := range 2 {
		bad["jti"] = newTestJTI()
		if r := e.post(oauth.PathToken, nil, assertionForm(k.sign(t, k.kid, bad))); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, r.status, r.body)
		}
	}
	// Now a bad assertion waits, and a good one is still served.
	bad["jti"] = newTestJTI()
	r := e.post(oauth.PathToken, nil, assertionForm(k.sign(t, k.kid, bad)))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("bad assertion after the burst: %d %s", r.status, r.body)
	}
	if r := e.post(oauth.PathToken, nil, okAssertion(t, e, id)); r.status != http.StatusOK {
		t.Fatalf("good assertion after the burst: %d %s", r.status, r.body)
	}
}

func TestPrivateKeyJWT_LogsNoAssertion(t *testing.T) {
	k := genKeys(t)["es256"]
	var buf syncBuffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.tenant("acme", store.StatusActive)
	id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k) })
	f := okAssertion(t, e, id)
	a := f.Get("client_assertion")
	e.post(oauth.PathToken, nil, f)
	e.post(oauth.PathToken, nil, f) // replay: refused and logged
	sigPart := a[strings.LastIndex(a, ".")+1:]
	if out := buf.String(); !strings.Contains(out, "jti already used") || strings.Contains(out, sigPart) || strings.Contains(out, a[:20]) {
		t.Fatalf("log = %s", out)
	}
}

// jwksServer serves a mutable key set and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func TestPrivateKeyJWT_JWKSURI_CachedAndRotationPickedUp(t *testing.T) {
	keys := genKeys(t)
	oldKey, newKey := keys["es256"], keys["ec2"]
	js := newJWKSServer(t, jwksOf(t, oldKey))
	e := newEnv(t, func(c *Config) { c.AllowPrivateJWKSURIs = true })
	e.tenant("acme", store.StatusActive)
	id := e.jwtClient(func(c *store.Client) { c.JWKSURI = js.URL + "/jwks.json" })

	send := func(k assertionKey) reply {
		return e.post(oauth.PathToken, nil, assertionForm(k.sign(t, k.kid, e.claimsFor(id))))
	}
	steps := []struct {
		name        string
		advance     time.Duration
		rotate      bool
		key         assertionKey
		wantStatus  int
		wantFetches int32
	}{
		{"first use fetches", 0, false, oldKey, 200, 1},
		{"second use is cached", time.Second, false, oldKey, 200, 1},
		{"rotated key, refetch too soon", time.Second, true, newKey, 401, 1},
		{"old key still cached", time.Second, false, oldKey, 200, 1},
		{"rotated key after the refetch interval", jwksMinRefetch, false, newKey, 200, 2},
		{"old key gone", time.Second, false, oldKey, 401, 2},
		{"fresh set not fetched again", jwksTTL - 10*time.Second, false, newKey, 200, 2},
		{"stale set fetched again", 10 * time.Second, false, newKey, 200, 3},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		if st.rotate {
			js.set(jwksOf(t, newKey))
		}
		r := send(st.key)
		if r.status != st.wantStatus {
			t.Fatalf("%s: status %d %s, want %d", st.name, r.status, r.body, st.wantStatus)
		}
		if n := js.fetches.Load(); n != st.wantFetches {
			t.Fatalf("%s: %d fetches, want %d", st.name, n, st.wantFetches)
		}
	}
}

func TestPrivateKeyJWT_JWKSURI_Refused(t *testing.T) {
	k := genKeys(t)["es256"]
	tests := []struct {
		name         string
		allowPrivate bool
		handler      http.HandlerFunc
	}{
		{"loopback without AllowPrivateJWKSURIs", false, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(jwksOf(t, k)) }},
		{"not found", true, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }},
		{"redirect", true, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }},
		{"too large", true, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", jwksMaxBytes) + `"}`))
		}},
		{"not JSON", true, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }},
		{"private key published", true, func(w http.ResponseWriter, _ *http.Request) {
			b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv, KeyID: k.kid}}})
			_, _ = w.Write(b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				tt.handler(w, r)
			}))
			t.Cleanup(ts.Close)
			e := newEnv(t, func(c *Config) { c.AllowPrivateJWKSURIs = tt.allowPrivate })
			e.tenant("acme", store.StatusActive)
			id := e.jwtClient(func(c *store.Client) { c.JWKSURI = ts.URL + "/jwks" })
			wantInvalidClient(t, e.post(oauth.PathToken, nil, okAssertion(t, e, id)))
			if !tt.allowPrivate && hits.Load() != 0 {
				t.Errorf("the private URL was fetched %d times", hits.Load())
			}
			// A failed fetch is not retried before the refetch interval.
			before := hits.Load()
			wantInvalidClient(t, e.post(oauth.PathToken, nil, okAssertion(t, e, id)))
			if hits.Load() != before {
				t.Errorf("failed fetch retried at once")
			}
		})
	}
}

func TestPublicClient_Authentication(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	pub := e.client("acme", []string{"openid"}, func(c *store.Client) {
		c.AuthMethod, c.Secrets, c.GrantTypes = oauth.AuthNone, nil, []string{"authorization_code"}
	})
	conf := e.client("acme", []string{"core.invoice.read"})
	misregistered := e.client("acme", []string{"core.invoice.read"}, func(c *store.Client) {
		c.AuthMethod, c.Secrets, c.GrantTypes = oauth.AuthNone, nil, []string{oauth.GrantClientCredentials}
	})
	tests := []struct {
		name     string
		path     string
		form     url.Values
		wantCode string
		status   int
	}{
		// Authenticated, then refused the grant: the public client got past
		// client authentication.
		{"public client at the token endpoint", oauth.PathToken, url.Values{"grant_type": {oauth.GrantClientCredentials}, "client_id": {pub.ID}}, oauth.CodeUnauthorizedClient, 400},
		{"public client revokes", oauth.PathRevoke, url.Values{"token": {"x"}, "client_id": {pub.ID}}, "", 200},
		{"public client may not introspect", oauth.PathIntrospect, url.Values{"token": {"x"}, "client_id": {pub.ID}}, oauth.CodeInvalidClient, 401},
		{"confidential client with client_id alone", oauth.PathToken, url.Values{"grant_type": {oauth.GrantClientCredentials}, "client_id": {conf.ID}}, oauth.CodeInvalidClient, 401},
		{"public client with a secret", oauth.PathToken, url.Values{"grant_type": {oauth.GrantClientCredentials}, "client_id": {pub.ID}, "client_secret": {conf.Secret}}, oauth.CodeInvalidClient, 401},
		{"public client registered for client_credentials", oauth.PathToken, url.Values{"grant_type": {oauth.GrantClientCredentials}, "client_id": {misregistered.ID}}, oauth.CodeInvalidClient, 401},
		{"unknown client id", oauth.PathToken, url.Values{"grant_type": {oauth.GrantClientCredentials}, "client_id": {"ksc_nobody"}}, oauth.CodeInvalidClient, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(tt.path, nil, tt.form)
			if r.status != tt.status || r.str("error") != tt.wantCode {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tt.status, tt.wantCode)
			}
		})
	}
}

func TestCheckClaims_Boundaries(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	v := &assertionVerifier{now: func() time.Time { return now }, audiences: []string{"https://as.example", "https://as.example/oauth2/token"}}
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	base := func() assertionClaims {
		return assertionClaims{Issuer: "c1", Subject: "c1", Audience: []string{"https://as.example/oauth2/token"}, ExpiresAt: at(time.Minute), JTI: "j"}
	}
	tests := []struct {
		name string
		mod  func(*assertionClaims)
		ok   bool
	}{
		{"valid", func(*assertionClaims) {}, true},
		{"issuer as audience", func(c *assertionClaims) { c.Audience = []string{"https://as.example"} }, true},
		{"expired within leeway", func(c *assertionClaims) { c.ExpiresAt = at(-59 * time.Second) }, true},
		{"expired at leeway", func(c *assertionClaims) { c.ExpiresAt = at(-60 * time.Second) }, false},
		{"exp at 61 min", func(c *assertionClaims) { c.ExpiresAt = at(61 * time.Minute) }, true},
		{"exp past 61 min", func(c *assertionClaims) { c.ExpiresAt = at(61*time.Minute + time.Second) }, false},
		{"nbf within leeway", func(c *assertionClaims) { c.NotBefore = at(60 * time.Second) }, true},
		{"nbf past leeway", func(c *assertionClaims) { c.NotBefore = at(61 * time.Second) }, false},
		{"iat within leeway", func(c *assertionClaims) { c.IssuedAt = at(60 * time.Second) }, true},
		{"iat past leeway", func(c *assertionClaims) { c.IssuedAt = at(61 * time.Second) }, false},
		{"exp 61 min after iat", func(c *assertionClaims) { c.IssuedAt, c.ExpiresAt = at(-time.Minute), at(60*time.Minute) }, true},
		{"exp over 61 min after iat", func(c *assertionClaims) { c.IssuedAt, c.ExpiresAt = at(-time.Minute-time.Second), at(60*time.Minute) }, false},
		{"zitadel/oidc: iat now, exp in 1 h", func(c *assertionClaims) { c.IssuedAt, c.ExpiresAt = at(0), at(time.Hour) }, true},
		{"no iat, exp in 1 h", func(c *assertionClaims) { c.ExpiresAt = at(time.Hour) }, true},
		{"24 h assertion", func(c *assertionClaims) { c.IssuedAt, c.ExpiresAt = at(0), at(24*time.Hour) }, false},
		{"no exp", func(c *assertionClaims) { c.ExpiresAt = nil }, false},
		{"no jti", func(c *assertionClaims) { c.JTI = "" }, false},
		{"long jti", func(c *assertionClaims) { c.JTI = strings.Repeat("j", maxJTILen+1) }, false},
		{"iss differs", func(c *assertionClaims) { c.Issuer = "c2" }, false},
		{"sub differs", func(c *assertionClaims) { c.Subject = "c2" }, false},
		{"no aud", func(c *assertionClaims) { c.Audience = nil }, false},
		{"aud with a trailing slash", func(c *assertionClaims) { c.Audience = []string{"https://as.example/"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mod(&c)
			_, err := v.checkClaims("c1", &c)
			if (err == nil) != tt.ok {
				t.Fatalf("checkClaims err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func FuzzParseAssertion(f *testing.F) {
	k := genKeys(f)["es256"]
	good := k.sign(f, k.kid, map[string]any{"sub": "c1"})
	for _, s := range []string{good, "", "a.b.c", "not.a.jwt", good + "x", strings.ReplaceAll(good, ".", "..")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		jws, sub := parseAssertion(s)
		if jws == nil {
			if sub != "" {
				t.Fatal("sub without an assertion")
			}
			return
		}
		alg := jose.SignatureAlgorithm(jws.Signatures[0].Header.Algorithm)
		ok := false
		for _, a := range assertionAlgs {
			ok = ok || a == alg
		}
		if !ok {
			t.Fatalf("parsed an assertion with alg %q", alg)
		}
	})
}

func TestPrivateKeyJWT_StoreDown_TemporarilyUnavailable(t *testing.T) {
	k := genKeys(t)["es256"]
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k) })
	f := okAssertion(t, e, id)
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	// The jti cannot be recorded: the client did nothing wrong, so it is
	// neither invalid_client nor counted as a failure.
	r := e.post(oauth.PathToken, nil, f)
	if r.status != http.StatusServiceUnavailable || r.str("error") != oauth.CodeTemporarilyUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}
