package guard_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/guard"
)

const testIssuer = "https://auth.example.com"

// signer signs test tokens with a local key.
type signer struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newSigner(t testing.TB, kid string, alg jose.SignatureAlgorithm) *signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: kid, alg: alg, priv: k}
}

func (s *signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.priv.Public(), KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"}
}

func (s *signer) sign(t testing.TB, typ string, cl map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", s.kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cl)
	obj, err := sg.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "ksc_1", "aud": []string{"https://other", testIssuer},
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "jti-1",
		"client_id": "ksc_1", "scope": "core.invoice.read", "tenant": "acme",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestVerifyToken_ClaimsAndHeaders(t *testing.T) {
	t.Parallel()
	es, ed, rs := newSigner(t, "es", jose.ES256), newSigner(t, "ed", jose.EdDSA), newSigner(t, "rs", jose.RS256)
	rs384 := newSigner(t, "rs384", jose.RS384)
	unlisted := newSigner(t, "es", jose.ES256) // same kid, other key
	now := time.Now()
	g := newGuard(t, guard.Config{Issuer: testIssuer, Now: func() time.Time { return now }, Logger: quiet(),
		KeySet: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.jwk(), ed.jwk(), rs.jwk(), rs384.jwk()}}})
	cl := claimsAt(now)
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"ES256 at+jwt", es.sign(t, "at+jwt", cl), true},
		{"EdDSA", ed.sign(t, "at+jwt", cl), true},
		{"RS256", rs.sign(t, "at+jwt", cl), true},
		{"typ application/at+jwt", es.sign(t, "application/at+jwt", cl), true},
		{"aud as a string", es.sign(t, "at+jwt", with(cl, "aud", testIssuer)), true},
		{"nbf within leeway", es.sign(t, "at+jwt", with(cl, "nbf", now.Add(20*time.Second).Unix())), true},
		{"RS384 refused", rs384.sign(t, "at+jwt", cl), false},
		{"no typ", es.sign(t, "", cl), false},
		{"typ JWT", es.sign(t, "JWT", cl), false},
		{"signed by an unpublished key with a known kid", unlisted.sign(t, "at+jwt", cl), false},
		{"nbf in the future", es.sign(t, "at+jwt", with(cl, "nbf", now.Add(time.Minute).Unix())), false},
		{"expired beyond leeway", es.sign(t, "at+jwt", with(cl, "exp", now.Add(-31*time.Second).Unix())), false},
		{"no exp", es.sign(t, "at+jwt", with(cl, "exp", nil)), false},
		{"no client_id", es.sign(t, "at+jwt", with(cl, "client_id", nil)), false},
		{"no jti", es.sign(t, "at+jwt", with(cl, "jti", nil)), false},
		{"no sub", es.sign(t, "at+jwt", with(cl, "sub", nil)), false},
		{"wrong issuer", es.sign(t, "at+jwt", with(cl, "iss", "https://evil.example.com")), false},
		{"issuer with trailing slash", es.sign(t, "at+jwt", with(cl, "iss", testIssuer+"/")), false},
		{"aud of another API", es.sign(t, "at+jwt", with(cl, "aud", "https://other")), false},
		{"aud of wrong type", es.sign(t, "at+jwt", with(cl, "aud", 5)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := g.VerifyToken(context.Background(), tc.token)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			var ge *guard.Error
			if err != nil && (!errors.As(err, &ge) || ge.Code != guard.CodeInvalidToken || ge.Status != 401) {
				t.Fatalf("err = %#v", err)
			}
			if tc.ok && (p.Tenant != "acme" || p.ClientID != "ksc_1" || p.Kind != guard.KindToken || p.TokenID != "jti-1") {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

func TestJWKS_UnknownKids_RefetchRateLimited(t *testing.T) {
	t.Parallel()
	es := newSigner(t, "es", jose.ES256)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.jwk()}})
	}))
	defer srv.Close()
	clk := &clock{t: time.Now()}
	g := newGuard(t, guard.Config{Issuer: testIssuer, JWKSURL: srv.URL, Now: clk.now, Logger: quiet(), JWKSMinRefresh: time.Second})
	good := es.sign(t, "at+jwt", claimsAt(clk.t))
	if _, err := g.VerifyToken(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		bogus := newSigner(t, "kid-"+string(rune('a'+i%26)), jose.EdDSA)
		if _, err := g.VerifyToken(context.Background(), bogus.sign(t, "at+jwt", claimsAt(clk.t))); err == nil {
			t.Fatal("a token signed with an unknown key verified")
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches within the minimum refresh interval, want 1", n)
	}
	clk.t = clk.t.Add(2 * time.Second)
	bogus := newSigner(t, "new", jose.EdDSA)
	_, _ = g.VerifyToken(context.Background(), bogus.sign(t, "at+jwt", claimsAt(clk.t)))
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the interval, want 2", n)
	}
}

func TestNew_Config(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]guard.Config{
		"no issuer":   {JWKSURL: "https://a/jwks"},
		"no keys":     {Issuer: testIssuer},
		"bad url":     {Issuer: testIssuer, JWKSURL: "file:///etc/passwd"},
		"empty set":   {Issuer: testIssuer, KeySet: &jose.JSONWebKeySet{}},
		"no kid keys": {Issuer: testIssuer, KeySet: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("hmac-secret"), KeyID: "h", Algorithm: "HS256"}}}},
	} {
		if _, err := guard.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// source is an in-process key set whose entity tag changes with it, as
// keyshift's keyring is.
type source struct {
	set  atomic.Pointer[[]byte]
	etag atomic.Pointer[string]
}

func (s *source) publish(t *testing.T, etag string, keys ...jose.JSONWebKey) {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.set.Store(&b)
	s.etag.Store(&etag)
}

func (s *source) JWKS() ([]byte, string) { return *s.set.Load(), *s.etag.Load() }

func TestKeySource_FollowsRotationAndRetirement(t *testing.T) {
	t.Parallel()
	a, b := newSigner(t, "a", jose.ES256), newSigner(t, "b", jose.EdDSA)
	src := &source{}
	src.publish(t, "1", a.jwk())
	now := time.Now()
	g := newGuard(t, guard.Config{Issuer: testIssuer, KeySource: src, Logger: quiet()})
	if _, err := g.VerifyToken(context.Background(), a.sign(t, "at+jwt", claimsAt(now))); err != nil {
		t.Fatal(err)
	}
	if _, err := g.VerifyToken(context.Background(), b.sign(t, "at+jwt", claimsAt(now))); err == nil {
		t.Fatal("unpublished key accepted")
	}
	src.publish(t, "2", a.jwk(), b.jwk())
	if _, err := g.VerifyToken(context.Background(), b.sign(t, "at+jwt", claimsAt(now))); err != nil {
		t.Fatalf("rotated-in key: %v", err)
	}
	src.publish(t, "3", b.jwk())
	if _, err := g.VerifyToken(context.Background(), a.sign(t, "at+jwt", with(claimsAt(now), "jti", "new"))); err == nil {
		t.Fatal("retired key still verifies new tokens")
	}
}
