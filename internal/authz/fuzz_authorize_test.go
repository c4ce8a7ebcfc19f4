package authz

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
)

// fuzzClients are the fixed clients of FuzzAuthorizeRequest: a web app, a
// native app on a loopback port, one whose redirect URI has a query, and
// a machine client without the code flow.
var fuzzClients = map[string]*clientView{
	"web": {id: "web", tenant: "acme", name: "Web", grantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		scopes: []string{"core.invoice.read"}, redirectURIs: []string{"https://app.example/cb"}},
	"native": {id: "native", tenant: "acme", name: "CLI", grantTypes: []string{oauth.GrantAuthorizationCode},
		scopes: []string{"core.invoice.read"}, redirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]/cb"}},
	"query": {id: "query", tenant: "acme", name: "Q", grantTypes: []string{oauth.GrantAuthorizationCode},
		scopes: []string{"a.b.c"}, redirectURIs: []string{"https://q.example/cb?tenant=acme"}},
	"machine": {id: "machine", tenant: "acme", name: "M", grantTypes: []string{oauth.GrantClientCredentials},
		scopes: []string{"core.invoice.read"}, redirectURIs: []string{"https://m.example/cb"}},
}

func fuzzLookup(id string) *clientView { return fuzzClients[id] }

// fuzzRedirectOK is an independent statement of which redirect URIs a
// client may use: one of its own exactly, or for an http loopback IP
// literal one of its own on another port (RFC 8252 §7.3).
func fuzzRedirectOK(c *clientView, uri string) bool {
	if slices.Contains(c.redirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	for _, reg := range c.redirectURIs {
		r, _ := url.Parse(reg)
		if r.Scheme == "http" && r.Hostname() == u.Hostname() && r.Path == u.Path && r.RawQuery == "" {
			return true
		}
	}
	return false
}

// FuzzAuthorizeRequest: the authorization request parser never panics;
// an accepted request is a code request with an S256 challenge, a
// registered redirect URI and scopes the client may ask for; and an error
// is redirected only once the client and redirect URI are verified, to
// that URI and nowhere else (RFC 6749 §4.1.2.1).
func FuzzAuthorizeRequest(f *testing.F) {
	p := pkcePair{verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}
	valid := authParams("web", "https://app.example/cb", "openid core.invoice.read", p)
	seeds := []url.Values{valid}
	add := func(mod func(url.Values)) {
		q := url.Values{}
		for k, v := range valid {
			q[k] = slices.Clone(v)
		}
		mod(q)
		seeds = append(seeds, q)
	}
	add(func(q url.Values) {
		q.Set("client_id", "native")
		q.Set("redirect_uri", "http://127.0.0.1:49152/cb")
	})
	add(func(q url.Values) { q.Set("client_id", "native"); q.Set("redirect_uri", "http://[::1]:8080/cb") })
	add(func(q url.Values) {
		q.Set("client_id", "native")
		q.Set("redirect_uri", "http://127.0.0.1:49152/other")
	})
	add(func(q url.Values) { q.Set("client_id", "native"); q.Set("redirect_uri", "http://localhost:49152/cb") })
	add(func(q url.Values) {
		q.Set("client_id", "query")
		q.Set("redirect_uri", "https://q.example/cb?tenant=acme")
		q.Set("scope", "a.b.c")
	})
	add(func(q url.Values) { q.Set("client_id", "machine") })
	add(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") })
	add(func(q url.Values) { q.Del("redirect_uri") })
	add(func(q url.Values) { q.Del("code_challenge") })
	add(func(q url.Values) { q.Set("code_challenge_method", "plain") })
	add(func(q url.Values) { q.Del("code_challenge_method") })
	add(func(q url.Values) { q.Set("response_type", "token") })
	add(func(q url.Values) { q.Set("response_type", "code id_token") })
	add(func(q url.Values) { q.Set("response_mode", "form_post") })
	add(func(q url.Values) { q.Set("scope", "openid offline_access profile email") })
	add(func(q url.Values) { q.Set("scope", "openid  core.invoice.read") })
	add(func(q url.Values) { q.Set("scope", "") })
	add(func(q url.Values) { q.Set("prompt", "none") })
	add(func(q url.Values) { q.Set("prompt", "none login") })
	add(func(q url.Values) { q.Set("prompt", "login consent select_account") })
	add(func(q url.Values) { q.Set("max_age", "0") })
	add(func(q url.Values) { q.Set("max_age", "-1") })
	add(func(q url.Values) { q.Set("nonce", "n-0S6_WzA2Mj") })
	add(func(q url.Values) { q.Set("login_hint", "alice@acme.example") })
	add(func(q url.Values) { q.Set("state", strings.Repeat("s", maxStateLen+1)) })
	add(func(q url.Values) { q.Set("request", "eyJhbGciOiJub25lIn0.e30.") })
	add(func(q url.Values) { q.Set("request_uri", "urn:ietf:params:oauth:request_uri:x") })
	for _, s := range seeds {
		f.Add(s.Encode())
	}
	f.Add("client_id=web&client_id=web")
	f.Add("client_id=web;redirect_uri=https://app.example/cb")
	f.Add("client_id=%zz")
	f.Add("")

	f.Fuzz(func(t *testing.T, raw string) {
		fm, e := parseAuthorizeParams(raw)
		if e != nil {
			if e.redirect {
				t.Fatalf("parameter error %v is redirected", e)
			}
			return
		}
		req, c, e := parseAuthorizeRequest(fm, fuzzLookup)
		if e != nil {
			if e.code == "" {
				t.Fatalf("error without a code: %+v", e)
			}
			if !e.redirect {
				return
			}
			// A redirected error: only after the client and redirect URI
			// were verified, and only to that URI.
			if req == nil || c == nil {
				t.Fatalf("redirected error %v without request or client", e)
			}
			if c != fuzzClients[fm.get("client_id")] || !slices.Contains(c.grantTypes, oauth.GrantAuthorizationCode) {
				t.Fatalf("redirected error %v for client %q", e, fm.get("client_id"))
			}
			if req.redirectURI != fm.get("redirect_uri") || !fuzzRedirectOK(c, req.redirectURI) {
				t.Fatalf("redirected error %v to unverified %q", e, req.redirectURI)
			}
			if len(req.state) > maxStateLen {
				t.Fatalf("state of %d bytes sent back", len(req.state))
			}
			to, err := errorRedirect(req.redirectURI, req.state, "https://auth.example", e)
			if err != nil {
				t.Fatalf("errorRedirect: %v", err)
			}
			got, err := url.Parse(to)
			want, _ := url.Parse(req.redirectURI)
			if err != nil || got.Scheme != want.Scheme || got.Host != want.Host || got.Path != want.Path || got.User != nil {
				t.Fatalf("error redirect %q leaves %q", to, req.redirectURI)
			}
			if q := got.Query(); q.Get("error") != e.code || q.Get("iss") != "https://auth.example" || q.Get("state") != req.state {
				t.Fatalf("error redirect %q lacks error, iss or state", to)
			}
			return
		}
		// Accepted.
		if c == nil || req == nil || c != fuzzClients[req.clientID] {
			t.Fatalf("accepted without its client: %+v", req)
		}
		if fm.get("response_type") != "code" {
			t.Fatalf("accepted response_type %q", fm.get("response_type"))
		}
		if fm.get("code_challenge_method") != "S256" || len(req.codeChallenge) != 43 || !isBase64URL(req.codeChallenge) || req.codeChallenge != fm.get("code_challenge") {
			t.Fatalf("accepted challenge %q method %q", req.codeChallenge, fm.get("code_challenge_method"))
		}
		if !slices.Contains(c.grantTypes, oauth.GrantAuthorizationCode) || !fuzzRedirectOK(c, req.redirectURI) {
			t.Fatalf("accepted redirect URI %q for %s", req.redirectURI, c.id)
		}
		if len(req.scopes) == 0 || len(outside(req.scopes, authorizableScopes(c))) > 0 {
			t.Fatalf("accepted scopes %q for %s", req.scopes, c.id)
		}
		if req.prompt.none && (req.prompt.login || req.prompt.consent) {
			t.Fatal("accepted prompt=none with other values")
		}
		if req.maxAge < -1 || req.maxAge > maxMaxAge || len(req.nonce) > maxNonceLen || len(req.state) > maxStateLen {
			t.Fatalf("accepted out-of-bounds max_age %d, nonce %d or state %d bytes", req.maxAge, len(req.nonce), len(req.state))
		}
		if fm.has("request") || fm.has("request_uri") {
			t.Fatal("accepted a request object")
		}
	})
}
