package guard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/admintest"
)

// issuer is a real keyshift (token endpoint, JWKS, admin API) with tenant
// acme and an integration client holding core.invoice.read.
type issuer struct {
	*admintest.Stack
	clientID, secret string
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	s := admintest.New(t)
	id, secret := s.SeedAcmeClient(t)
	return &issuer{Stack: s, clientID: id, secret: secret}
}

// token mints an access token at the real token endpoint.
func (is *issuer) token(t testing.TB, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: is.clientID, ClientSecret: is.secret, TokenURL: is.URL + "/oauth2/token", Scopes: scopes}
	// A new client reaches the token endpoint's cache through the change
	// feed, a moment after its creation.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tok, err := cc.Token(context.Background())
		if err == nil {
			return tok.AccessToken
		}
		if time.Now().After(deadline) {
			t.Fatalf("mint token: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (is *issuer) rotate(t testing.TB) {
	t.Helper()
	if err := is.API.RotateSigningKeys(context.Background(), admin.SystemPrincipal()); err != nil {
		t.Fatal(err)
	}
}

func (is *issuer) guardConfig() guard.Config {
	return guard.Config{Issuer: is.URL, JWKSURL: is.URL + "/.well-known/jwks.json", Logger: quiet()}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newGuard(t testing.TB, cfg guard.Config) *guard.Guard {
	t.Helper()
	g, err := guard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// echo answers 200 with the principal's kind, tenant, client and key.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := guard.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", 500)
		return
	}
	_, _ = io.WriteString(w, strings.Join([]string{string(p.Kind), p.Tenant, p.ClientID, p.KeyID, strings.Join(p.Scopes, " ")}, "|"))
})

// call runs one request through h with the given headers.
func call(h http.Handler, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/api/invoices/1", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
