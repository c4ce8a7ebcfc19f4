package authz

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// TestUserinfo: the UserInfo endpoint (OIDC Core §5.3) takes a person's
// token with openid from the Authorization header or a POSTed form body
// (RFC 6750 §2.1, §2.2), never from the query string (RFC 9700 §4.3.2),
// and refuses everything else with the RFC 6750 §3 challenge. Each row
// names the check it guards.
func TestUserinfo(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	_, r := e.personTokens(c, webRedirect, "openid profile email core.invoice.read", "alice", alicePassword)
	person := r.str("access_token")
	_, r = e.personTokens(c, webRedirect, "core.invoice.read", "alice", alicePassword)
	noOpenID := r.str("access_token")
	// A client_credentials client registered (by mistake) with openid: its
	// token has the scope but no person behind it.
	machine := e.token(e.client("acme", []string{oauth.ScopeOpenID, "core.invoice.read"}), "openid core.invoice.read")
	aliceID := jwtClaims(t, person)["sub"].(string)

	type req struct {
		method, query, auth, ctype, body string
	}
	header := func(tok string) req { return req{method: http.MethodGet, auth: "Bearer " + tok} }
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		req    req
		status int
		code   string // error in WWW-Authenticate; "" on 200 and on a request without token
	}{
		{"GET, header (control)", header(person), 200, ""},
		{"POST, header, no body", req{method: http.MethodPost, auth: "Bearer " + person}, 200, ""},
		{"POST, form body", req{method: http.MethodPost, ctype: form, body: url.Values{"access_token": {person}}.Encode()}, 200, ""},
		{"scheme name in lower case", req{method: http.MethodGet, auth: "bearer " + person}, 200, ""},
		{"no token: 401 with a bare challenge (bearerToken)", req{method: http.MethodGet}, 401, ""},
		{"POST without token", req{method: http.MethodPost, ctype: form, body: "x=1"}, 401, ""},
		{"token in the query string (bearerToken)", req{method: http.MethodGet, query: url.Values{"access_token": {person}}.Encode()}, 400, "invalid_request"},
		{"token in the query string and the header", req{method: http.MethodGet, query: "access_token=" + person, auth: "Bearer " + person}, 400, "invalid_request"},
		{"token in the header and the body", req{method: http.MethodPost, auth: "Bearer " + person, ctype: form, body: "access_token=" + person}, 400, "invalid_request"},
		{"Basic scheme", req{method: http.MethodGet, auth: "Basic " + basicOf(c.ID, c.Secret)}, 400, "invalid_request"},
		{"invalid token (Authenticate)", header("not.a.token"), 401, "invalid_token"},
		{"tampered token", header(person[:len(person)-4] + "AAAA"), 401, "invalid_token"},
		{"token without openid (scope check)", header(noOpenID), 403, "insufficient_scope"},
		{"client_credentials token with openid (user lookup)", header(machine), 401, "invalid_token"},
		{"PUT", req{method: http.MethodPut, auth: "Bearer " + person}, 405, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.ts.URL + oauth.PathUserinfo
			if tt.req.query != "" {
				u += "?" + tt.req.query
			}
			hr, _ := http.NewRequest(tt.req.method, u, strings.NewReader(tt.req.body))
			if tt.req.auth != "" {
				hr.Header.Set("Authorization", tt.req.auth)
			}
			if tt.req.ctype != "" {
				hr.Header.Set("Content-Type", tt.req.ctype)
			}
			got := e.do(hr)
			if got.status != tt.status {
				t.Fatalf("status %d %s, want %d", got.status, got.body, tt.status)
			}
			if tt.status == 200 {
				if got.str("sub") != aliceID || got.str("tenant") != "acme" || got.str("email") != "alice@acme.example" {
					t.Fatalf("userinfo = %s", got.body)
				}
				return
			}
			ch := got.header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, "Bearer ") {
				t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", ch)
			}
			if tt.code == "" {
				if strings.Contains(ch, "error=") || len(got.body) != 0 {
					t.Fatalf("a request without a token gets no error code (RFC 6750 §3.1): %q %s", ch, got.body)
				}
				return
			}
			if !strings.Contains(ch, `error="`+tt.code+`"`) || got.str("error") != tt.code {
				t.Fatalf("WWW-Authenticate %q body %s, want error %s", ch, got.body, tt.code)
			}
		})
	}

	t.Run("claims follow the scopes", func(t *testing.T) {
		_, r := e.personTokens(c, webRedirect, "openid", "alice", alicePassword)
		got := e.do(bearerGet(e, r.str("access_token")))
		if got.status != 200 || got.str("sub") != aliceID || got.str("email") != "" || got.str("name") != "" {
			t.Fatalf("openid alone: %d %s, want sub only", got.status, got.body)
		}
	})

	t.Run("disabled user (u.Disabled)", func(t *testing.T) {
		err := e.st.Tx(e.ctx, func(tx store.Tx) error {
			return tx.UpdateUser(e.ctx, aliceID, func(u store.User) (store.User, error) { u.Disabled = true; return u, nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		got := e.do(bearerGet(e, person))
		if got.status != 401 || !strings.Contains(got.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("disabled user: %d %q %s, want 401 invalid_token", got.status, got.header.Get("WWW-Authenticate"), got.body)
		}
	})
}

func bearerGet(e *env, tok string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathUserinfo, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}
