package authz

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// hostile is one malformed or hostile request and its exact answer.
type hostile struct {
	name   string
	method string // default POST
	path   string // default the token endpoint
	query  string
	ctype  *string // nil: form content type
	body   string
	auth   []string // Authorization header values
	status int
	code   string // "" for an answer without error body
}

func strp(s string) *string { return &s }

func TestProtocolEndpoints_HostileRequests(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	e.tenant("frozen", store.StatusDisabled)
	good := e.client("acme", []string{"a.b.read", "a.b.write", oauth.ScopeAdmin})
	post := e.client("acme", []string{"a.b.read"}, func(c *store.Client) { c.AuthMethod = oauth.AuthClientSecretPost })
	other := e.client("acme", []string{"a.b.read"})
	disabled := e.client("acme", []string{"a.b.read"}, func(c *store.Client) { c.Status = store.StatusDisabled })
	frozen := e.client("frozen", []string{"a.b.read"})
	noCC := e.client("acme", []string{"a.b.read"}, func(c *store.Client) { c.GrantTypes = []string{"authorization_code"} })
	past := e.clock.Now().Add(-time.Minute)
	expired := e.client("acme", []string{"a.b.read"}, func(c *store.Client) { c.Secrets[0].ExpiresAt = &past })

	cc := "grant_type=client_credentials"
	b := func(c testClient) []string { return []string{"Basic " + basicOf(c.ID, c.Secret)} }
	withSecret := func(c testClient) string {
		return cc + "&client_id=" + url.QueryEscape(c.ID) + "&client_secret=" + url.QueryEscape(c.Secret)
	}
	b64 := base64.StdEncoding.EncodeToString
	tok := e.token(good, "a.b.read")

	tests := []hostile{
		// Framing.
		{name: "GET on token", method: http.MethodGet, status: 405, code: oauth.CodeInvalidRequest},
		{name: "PUT on token", method: http.MethodPut, body: cc, auth: b(good), status: 405, code: oauth.CodeInvalidRequest},
		{name: "wrong content type", ctype: strp("text/plain"), body: cc, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "JSON body", ctype: strp("application/json"), body: `{"grant_type":"client_credentials"}`, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "JSON body sent as form", body: `{"grant_type":"client_credentials"}`, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "multipart", ctype: strp("multipart/form-data; boundary=x"), body: "--x--", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "no content type", ctype: strp(""), body: cc, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "latin-1 charset", ctype: strp("application/x-www-form-urlencoded; charset=ISO-8859-1"), body: cc, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "duplicate grant_type", body: cc + "&" + cc, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "duplicate scope", body: cc + "&scope=a.b.read&scope=a.b.write", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "oversized body", body: cc + "&pad=" + strings.Repeat("x", 70<<10), auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "query parameters on POST", query: cc, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "credentials in query", query: "client_secret=" + good.Secret, body: cc, status: 400, code: oauth.CodeInvalidRequest},
		{name: "empty body", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "missing grant_type", body: "scope=a.b.read", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "empty grant_type", body: "grant_type=", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "NUL byte in client_id", body: cc + "&client_id=a%00b&client_secret=x", status: 400, code: oauth.CodeInvalidRequest},
		{name: "raw NUL byte in body", body: cc + "\x00", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "semicolon separator", body: cc + ";scope=a.b.read", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "bad percent-encoding", body: cc + "&scope=%zz", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "too many parameters", body: cc + "&" + manyParams(40), auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		// Client authentication syntax.
		{name: "bad Basic base64", body: cc, auth: []string{"Basic %%%"}, status: 400, code: oauth.CodeInvalidRequest},
		{name: "Basic without colon", body: cc, auth: []string{"Basic " + b64([]byte(good.ID+good.Secret))}, status: 400, code: oauth.CodeInvalidRequest},
		{name: "Basic with empty credentials", body: cc, auth: []string{"Basic "}, status: 400, code: oauth.CodeInvalidRequest},
		{name: "Basic and post credentials", body: withSecret(good), auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "Basic and a different body client_id", body: cc + "&client_id=" + other.ID, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "two Authorization headers", body: cc, auth: append(b(good), b(other)...), status: 400, code: oauth.CodeInvalidRequest},
		{name: "secret without client_id", body: cc + "&client_secret=" + good.Secret, status: 400, code: oauth.CodeInvalidRequest},
		// Client authentication: one answer for every failure.
		{name: "Bearer instead of Basic", body: cc, auth: []string{"Bearer " + tok}, status: 401, code: oauth.CodeInvalidClient},
		{name: "no credentials", body: cc, status: 401, code: oauth.CodeInvalidClient},
		{name: "client_id alone", body: cc + "&client_id=" + good.ID, status: 401, code: oauth.CodeInvalidClient},
		{name: "unknown client", body: cc, auth: []string{"Basic " + basicOf("ksc_nobody", good.Secret)}, status: 401, code: oauth.CodeInvalidClient},
		{name: "wrong secret", body: cc, auth: []string{"Basic " + basicOf(good.ID, other.Secret[:len(other.Secret)-1]+"x")}, status: 401, code: oauth.CodeInvalidClient},
		{name: "secret of another client", body: cc, auth: []string{"Basic " + basicOf(good.ID, other.Secret)}, status: 401, code: oauth.CodeInvalidClient},
		{name: "malformed secret", body: cc, auth: []string{"Basic " + basicOf(good.ID, "hunter2")}, status: 401, code: oauth.CodeInvalidClient},
		{name: "expired previous secret", body: cc, auth: b(expired), status: 401, code: oauth.CodeInvalidClient},
		{name: "disabled client", body: cc, auth: b(disabled), status: 401, code: oauth.CodeInvalidClient},
		{name: "client of a disabled tenant", body: cc, auth: b(frozen), status: 401, code: oauth.CodeInvalidClient},
		{name: "basic client using post", body: withSecret(good), status: 401, code: oauth.CodeInvalidClient},
		{name: "post client using basic", body: cc, auth: b(post), status: 401, code: oauth.CodeInvalidClient},
		// Grant and scope.
		{name: "unknown grant", body: "grant_type=password&username=u&password=p", auth: b(good), status: 400, code: oauth.CodeUnsupportedGrantType},
		{name: "implicit-style grant", body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", auth: b(good), status: 400, code: oauth.CodeUnsupportedGrantType},
		{name: "grant not allowed for the client", body: cc, auth: b(noCC), status: 400, code: oauth.CodeUnauthorizedClient},
		{name: "scope outside the client's", body: cc + "&scope=a.b.read+x.y.delete", auth: b(good), status: 400, code: oauth.CodeInvalidScope},
		{name: "admin scope for a tenant client", body: cc + "&scope=" + url.QueryEscape(oauth.ScopeAdmin), auth: b(good), status: 400, code: oauth.CodeInvalidScope},
		{name: "scope with double space", body: cc + "&scope=a.b.read++a.b.write", auth: b(good), status: 400, code: oauth.CodeInvalidScope},
		{name: "scope with a quote", body: cc + "&scope=a%22b", auth: b(good), status: 400, code: oauth.CodeInvalidScope},
		{name: "scope with non-ASCII", body: cc + "&scope=%C3%A9", auth: b(good), status: 400, code: oauth.CodeInvalidScope},
		{name: "huge scope list", body: cc + "&scope=" + url.QueryEscape(manyScopes(500)), auth: b(good), status: 400, code: oauth.CodeInvalidScope},
		// Introspection.
		{name: "introspect GET", method: http.MethodGet, path: oauth.PathIntrospect, status: 405, code: oauth.CodeInvalidRequest},
		{name: "introspect unauthenticated", path: oauth.PathIntrospect, body: "token=" + tok, status: 401, code: oauth.CodeInvalidClient},
		{name: "introspect wrong secret", path: oauth.PathIntrospect, body: "token=" + tok, auth: []string{"Basic " + basicOf(good.ID, other.Secret)}, status: 401, code: oauth.CodeInvalidClient},
		{name: "introspect missing token", path: oauth.PathIntrospect, body: "token_type_hint=access_token", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "introspect duplicate token", path: oauth.PathIntrospect, body: "token=a&token=b", auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "introspect JSON", path: oauth.PathIntrospect, ctype: strp("application/json"), body: `{"token":"x"}`, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "introspect garbage token", path: oauth.PathIntrospect, body: "token=garbage", auth: b(good), status: 200},
		// Revocation.
		{name: "revoke GET", method: http.MethodGet, path: oauth.PathRevoke, status: 405, code: oauth.CodeInvalidRequest},
		{name: "revoke unauthenticated", path: oauth.PathRevoke, body: "token=" + tok, status: 401, code: oauth.CodeInvalidClient},
		{name: "revoke missing token", path: oauth.PathRevoke, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "revoke query string", path: oauth.PathRevoke, query: "token=" + tok, auth: b(good), status: 400, code: oauth.CodeInvalidRequest},
		{name: "revoke garbage token", path: oauth.PathRevoke, body: "token=garbage&token_type_hint=refresh_token", auth: b(good), status: 200},
		{name: "revoke another client's token", path: oauth.PathRevoke, body: "token=" + tok, auth: b(other), status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.request(t, e.ts.URL))
			if r.status >= 500 {
				t.Fatalf("5xx: %d %s", r.status, r.body)
			}
			if r.status != tt.status || r.str("error") != tt.code {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tt.status, tt.code)
			}
			if tt.code != "" && r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("error without Cache-Control: no-store: %v", r.header)
			}
			if (r.status == 401) != (r.header.Get("WWW-Authenticate") == challenge) {
				t.Fatalf("WWW-Authenticate %q on %d", r.header.Get("WWW-Authenticate"), r.status)
			}
			if r.status == 405 && r.header.Get("Allow") != http.MethodPost {
				t.Fatalf("405 without Allow: POST: %v", r.header)
			}
		})
	}
	if n := counter(t, e, "keyshift_token_requests_total", oauth.GrantClientCredentials, oauth.CodeInvalidClient); n < 10 {
		t.Fatalf("invalid_client counted %v times", n)
	}
	if len(tests) < 30 {
		t.Fatalf("only %d hostile requests", len(tests))
	}
	// The token of "good" survived another client's revocation attempt.
	if _, err := e.srv.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("token revoked by another client: %v", err)
	}
}

func (h hostile) request(t *testing.T, base string) *http.Request {
	t.Helper()
	method, path := h.method, h.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = oauth.PathToken
	}
	u := base + path
	if h.query != "" {
		u += "?" + h.query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(h.body))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case h.ctype == nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case *h.ctype != "":
		req.Header.Set("Content-Type", *h.ctype)
	}
	for _, a := range h.auth {
		req.Header.Add("Authorization", a)
	}
	return req
}

func TestToken_SecretsNeverLogged(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	other := e.client("acme", []string{"a.b.read"})
	cc := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	e.post(oauth.PathToken, &testClient{ID: c.ID, Secret: other.Secret}, cc)                              // wrong secret
	e.post(oauth.PathToken, &testClient{ID: other.Secret, Secret: c.Secret}, cc)                          // secret pasted as id
	e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}, "scope": {"x"}}) // refused scope
	e.token(c, "")
	log := buf.String()
	if !strings.Contains(log, "client authentication failed") {
		t.Fatalf("failures not logged: %s", log)
	}
	for _, secret := range []string{c.Secret, other.Secret} {
		if strings.Contains(log, secret) {
			t.Fatalf("secret in log: %s", log)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
