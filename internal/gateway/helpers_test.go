package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/gateway"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// issuer is a real keyshift with tenant acme and a client holding
// core.invoice.read.
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

// token mints an access token at the real token endpoint, waiting for the
// new client to reach the endpoint's cache through the change feed.
func (is *issuer) token(t testing.TB) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: is.clientID, ClientSecret: is.secret, TokenURL: is.URL + "/oauth2/token"}
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

// upstream records what reached it and answers with the headers it saw.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
	last atomic.Pointer[http.Header]
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	u := &upstream{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		hdr := r.Header.Clone()
		u.last.Store(&hdr)
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

const routesYAML = `
routes:
  - {method: GET,  path: "/api/invoices/{id...}", scopes: [core.invoice.read],  permissions: ["invoices:read"]}
  - {method: POST, path: "/api/invoices",         scopes: [core.invoice.write], permissions: ["invoices:create"]}
  - {path: "/api/stream"}
`

func routes(t testing.TB, extra string) *gateway.Routes {
	t.Helper()
	rs, err := gateway.ParseRoutes(strings.NewReader(routesYAML + extra))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func newGateway(t testing.TB, cfg gateway.Config) *gateway.Gateway {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func guardCfg(is *issuer) guard.Config {
	return guard.Config{Issuer: is.URL, JWKSURL: is.URL + "/.well-known/jwks.json"}
}

func do(t testing.TB, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func problemOf(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, body %s", ct, w.Body)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// counter returns the value of a counter with the given labels, or -1.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
