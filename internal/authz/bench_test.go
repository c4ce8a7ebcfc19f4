package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// BenchmarkToken measures the whole token endpoint in process: strict form
// parsing, Basic authentication against the client cache, scope checks, an
// ES256 signature and the JSON answer.
func BenchmarkToken(b *testing.B) {
	e := newEnv(b)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"core.invoice.read", "core.invoice.write", "core.supplier.read"})
	auth := "Basic " + basicOf(c.ID, c.Secret)
	body := "grant_type=client_credentials&scope=core.invoice.read+core.supplier.read"
	h := http.HandlerFunc(e.srv.handleToken)
	b.ReportAllocs()
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
