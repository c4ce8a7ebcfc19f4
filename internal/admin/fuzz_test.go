package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/weburl"
)

// FuzzCreateClientBody sends arbitrary bodies to the client creation
// endpoint: the answer is a success or a 4xx problem, never a 5xx or a panic,
// and a created client always satisfies the validation rules.
func FuzzCreateClientBody(f *testing.F) {
	seeds := []string{
		`{"name":"a","scopes":["core.invoice.read"]}`,
		`{"name":"a","scopes":["core.invoice.read"],"contact":{"login":"erp","email":"a@b.example"},"access_token_ttl_seconds":300}`,
		`{"name":"a","scopes":["keyshift:admin"]}`,
		`{"name":"a","scopes":[],"redirect_uris":["http://x/#"]}`,
		`{"name":7}`, `[`, `null`, `{"name":"\u0000"}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	e := newEnv(f) // one store for the whole run
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/admin/v1/tenants/acme/clients", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokAcme)
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code == http.StatusCreated && strings.Contains(rec.Body.String(), "keyshift:admin") {
			t.Fatalf("a tenant admin granted keyshift:admin: %s", rec.Body)
		}
	})
}

// FuzzAuditQuery checks that any query string parses or is refused cleanly.
func FuzzAuditQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5", "before=2026-11-27T06:00:00Z&tenant=acme", "limit=-1", "before=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{RawQuery: raw}}
		q, err := parseAuditQuery(r)
		if err == nil && (q.Limit < 0 || q.Limit > MaxAuditLimit) {
			t.Fatalf("limit %d accepted from %q", q.Limit, raw)
		}
	})
}

// FuzzRedirectURI checks that an accepted redirect URI is absolute, has no
// fragment and uses https, loopback http or a private-use scheme with a path.
func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example/cb", "http://127.0.0.1:8400/cb", "http://[::1]/cb", "http://x/cb", "https://a/#f", "/cb", "javascript:alert(1)",
		"com.example.app:/cb", "com.example.app:cb", "com.example.app:/cb#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkRedirectURI(s) != "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || strings.Contains(s, "#") {
			t.Fatalf("accepted %q", s)
		}
		privateUse := strings.Contains(u.Scheme, ".") && u.Opaque == "" && strings.HasPrefix(u.Path, "/")
		if u.Scheme != "https" && !(u.Scheme == "http" && weburl.IsLoopbackHost(u.Hostname())) && !privateUse {
			t.Fatalf("accepted scheme of %q", s)
		}
	})
}

func BenchmarkCreateClient(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.api.CreateClient(ctx, operator, "acme", CreateClientRequest{Name: "bench", Scopes: []string{"core.invoice.read"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListClientsHTTP(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for range 50 {
		if _, err := e.api.CreateClient(ctx, operator, "acme", CreateClientRequest{Name: "bench", Scopes: []string{"core.invoice.read"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/admin/v1/tenants/acme/clients", nil)
		req.Header.Set("Authorization", "Bearer "+tokOperator)
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
