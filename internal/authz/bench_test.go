package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// BenchmarkToken measures the whole token endpoint in process: strict form
// parsing, Basic authentication against the client cache, scope checks, an
// ES256 signature and the JSON answer.
func BenchmarkToken(b *testing.B) {
	e := newEnv(b)
	benchmarkToken(b, e, benchClient(e))
}

// BenchmarkTokenSigner is BenchmarkToken with the access token signed by
// the keyring (hand) and by go-jose (an ES256 key of its own, through
// jwt.Signed or through jose.Signer over the same JSON), in one run so the
// ratios hold under the same load; it is the measure behind keeping
// signing's own JWS writer.
func BenchmarkTokenSigner(b *testing.B) {
	e := newEnv(b)
	auth := benchClient(e)
	hand := e.srv.signer
	for _, v := range []struct {
		name   string
		signer Signer
	}{
		{"hand", hand},
		{"gojose-jwt", newGoJoseSigner(b, hand, true)},
		{"gojose-jws", newGoJoseSigner(b, hand, false)},
	} {
		b.Run(v.name, func(b *testing.B) {
			e.srv.signer = v.signer
			benchmarkToken(b, e, auth)
		})
	}
	e.srv.signer = hand
}

// benchClient makes the benchmark's tenant and client and returns the
// client's Authorization header.
func benchClient(e *env) string {
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"core.invoice.read", "core.invoice.write", "core.supplier.read"})
	return "Basic " + basicOf(c.ID, c.Secret)
}

// benchmarkToken posts client_credentials requests with auth to e's token
// handler.
func benchmarkToken(b *testing.B, e *env, auth string) {
	body := "grant_type=client_credentials&scope=core.invoice.read+core.supplier.read"
	h := http.HandlerFunc(e.srv.handleToken)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	start := time.Now()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
}

// goJoseSigner signs access tokens with go-jose and an ES256 key of its
// own; Verify and JWKS stay the keyring's (the token endpoint only signs).
type goJoseSigner struct {
	Signer
	js     jose.Signer
	viaJWT bool
}

func newGoJoseSigner(b *testing.B, keyring Signer, viaJWT bool) *goJoseSigner {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "gojose-bench"}},
		(&jose.SignerOptions{}).WithType(oauth.TokenTypeAccessJWT))
	if err != nil {
		b.Fatal(err)
	}
	return &goJoseSigner{Signer: keyring, js: js, viaJWT: viaJWT}
}

func (g *goJoseSigner) Sign(typ string, claims any) (string, error) {
	if typ != oauth.TokenTypeAccessJWT {
		return "", fmt.Errorf("bench signer signs %s only, not %s", oauth.TokenTypeAccessJWT, typ)
	}
	if g.viaJWT {
		return jwt.Signed(g.js).Claims(claims).Serialize()
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := g.js.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// BenchmarkTokenBaseline is the floor BenchmarkToken is judged against: a
// bare handler that parses the same form with the standard library and
// makes one ES256 signature, with no authentication, checks or claims.
func BenchmarkTokenBaseline(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	body := "grant_type=client_credentials&scope=core.invoice.read+core.supplier.read"
	payload := []byte(`{"iss":"http://127.0.0.1:8080","sub":"ksc_0123456789abcdefghij","aud":"http://127.0.0.1:8080","exp":1700086400,"iat":1700000000,"jti":"0123456789abcdefghijkl","client_id":"ksc_0123456789abcdefghij","scope":"core.invoice.read core.supplier.read","tenant":"acme"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		digest := sha256.Sum256(payload)
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + base64.RawURLEncoding.EncodeToString(sig) + `"}`))
	})
	b.ReportAllocs()
	defer cpuPerOp(b)()
	start := time.Now()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
}

// cpuPerOp reports the process's CPU time (user and system, GC included)
// per iteration as cpu-ns/op when the returned func is called after the
// loop. On a shared machine wall time per op swings with other load; CPU
// time measures the work itself, so ratios between variants hold.
func cpuPerOp(b *testing.B) func() {
	start := processCPU(b)
	return func() { b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
