package guard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/guard"
)

// discard is a reusable ResponseWriter, so the benchmarks count the guard's
// allocations and not the recorder's.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, ok := guard.PrincipalFrom(r.Context()); !ok {
		w.WriteHeader(500)
	}
})

func runGuard(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r) // warm the caches
	if w.code != 0 && w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.code != 0 && w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
}

// BenchmarkGuard_CachedToken is the steady state of a bearer token:
// header parse, SHA-256, cache lookup, lifetime, revocation and client
// status, scope check, principal into the context.
func BenchmarkGuard_CachedToken(b *testing.B) {
	es := newSigner(b, "es", jose.ES256)
	g := newGuard(b, guard.Config{Issuer: testIssuer, Logger: quiet(), TokenStatus: &status{},
		KeySet: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.jwk()}}})
	r := httptest.NewRequest(http.MethodGet, "/api/invoices/1", nil)
	r.Header.Set("Authorization", "Bearer "+es.sign(b, "at+jwt", claimsAt(time.Now())))
	runGuard(b, g.Require("core.invoice.read")(noop), r)
}

// BenchmarkGuard_CachedKey is the steady state of a legacy key checked
// remotely: parse, SHA-256, cache lookup, permission check, deprecation
// headers, principal into the context.
func BenchmarkGuard_CachedKey(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(keyAnswer("accepted", "invoices:read")))
	}))
	defer srv.Close()
	g := newGuard(b, guard.Config{Issuer: testIssuer, JWKSURL: testIssuer + "/jwks", Logger: quiet(),
		KeyChecker: guard.RemoteKeys(srv.URL, "c", "s", time.Hour)})
	r := httptest.NewRequest(http.MethodGet, "/api/invoices/1", nil)
	r.Header.Set("X-API-Key", keyRead)
	runGuard(b, g.Protect(guard.Requirement{Scopes: []string{"core.invoice.read"}, Permissions: []string{"invoices:read"}})(noop), r)
}

// BenchmarkGuard_FirstVerification is a token never seen before: parse,
// ES256 signature check, claims.
func BenchmarkGuard_FirstVerification(b *testing.B) {
	es := newSigner(b, "es", jose.ES256)
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.jwk()}}
	now := time.Now()
	toks := make([]string, 256)
	for i := range toks {
		toks[i] = es.sign(b, "at+jwt", with(claimsAt(now), "jti", string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	ctx := context.Background()
	var g *guard.Guard
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(toks) == 0 {
			b.StopTimer()
			g = newGuard(b, guard.Config{Issuer: testIssuer, KeySet: set, Logger: quiet()})
			b.StartTimer()
		}
		if _, err := g.VerifyToken(ctx, toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
