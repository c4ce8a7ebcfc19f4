package authz

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyshift/keyshift/internal/authz/authztest"
	"github.com/keyshift/keyshift/internal/oauth"
)

// Helpers of the tests of the flows for people (rfc9700_test.go,
// pages_test.go, userinfo_test.go, logout_test.go): authorization requests
// built by hand, so a test can send exactly the malformed one it needs.

const webRedirect = "https://app.example/callback"

// pkcePair is a PKCE verifier and its S256 challenge.
type pkcePair struct{ verifier, challenge string }

func newPKCE() pkcePair {
	v := oauth2.GenerateVerifier()
	return pkcePair{verifier: v, challenge: oauth2.S256ChallengeFromVerifier(v)}
}

// authParams is a valid authorization request of client id for scope.
func authParams(id, redirect, scope string, p pkcePair) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {randomState()}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"},
	}
}

func (e *env) authURL(v url.Values) string { return e.ts.URL + oauth.PathAuthorize + "?" + v.Encode() }

// newBrowserFrom is a browser whose connections come from ip (any address
// of 127.0.0.0/8 works on Linux), for the per-address limiter.
func newBrowserFrom(t testing.TB, issuer, ip string) *browser {
	t.Helper()
	return &browser{Browser: authztest.NewBrowserFrom(t, issuer, ip), t: t}
}

// noFollow is a client sharing b's cookies that does not follow redirects,
// to look at one response's own headers.
func (b *browser) noFollow() *http.Client { return b.NoFollow() }

// cookie returns the browser's cookie named name for the issuer, or "".
func (b *browser) cookie(name string) string { return b.Cookie(name) }

func isLoginPage(p page) bool { return p.page().IsLoginPage() }

func isConsentPage(p page) bool { return p.status == http.StatusOK && p.page().AsksApproval() }

// approveAll runs an authorization request in b, signing in as login and
// approving consent when asked, and returns what came back to the client.
func (e *env) approveAll(b *browser, v url.Values, login, pw string) url.Values {
	e.t.Helper()
	p := b.get(e.authURL(v))
	if b.Landed == nil && p.url.Path == oauth.PathLogin {
		p = b.signIn(p, "", login, pw)
	}
	if b.Landed == nil && isConsentPage(p) {
		p = b.decide(p, "approve")
	}
	if b.Landed == nil {
		e.t.Fatalf("authorization did not return to the client; ended at %s (%d):\n%s", p.url, p.status, p.body)
	}
	return b.callback()
}

// codeFor runs an approved authorization in b and returns the code.
func (e *env) codeFor(b *browser, v url.Values, login, pw string) string {
	e.t.Helper()
	cb := e.approveAll(b, v, login, pw)
	if cb.Get("code") == "" {
		e.t.Fatalf("no code in the callback: %v", cb)
	}
	return cb.Get("code")
}

// redeem posts an authorization_code grant for c.
func (e *env) redeem(c testClient, code, redirect, verifier string) reply {
	e.t.Helper()
	v := url.Values{"grant_type": {oauth.GrantAuthorizationCode}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	return e.post(oauth.PathToken, &c, v)
}

// mustRedeem redeems a code and fails the test unless tokens come back.
func (e *env) mustRedeem(c testClient, code, redirect, verifier string) reply {
	e.t.Helper()
	r := e.redeem(c, code, redirect, verifier)
	if r.status != http.StatusOK {
		e.t.Fatalf("redeem code: %d %s", r.status, r.body)
	}
	return r
}

// refresh posts a refresh_token grant for c; scope "" sends none.
func (e *env) refresh(c testClient, rt, scope string) reply {
	e.t.Helper()
	v := url.Values{"grant_type": {oauth.GrantRefreshToken}, "refresh_token": {rt}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return e.post(oauth.PathToken, &c, v)
}

// personTokens runs the whole code flow for client c in a new browser
// and returns the browser (signed in) and the token response.
func (e *env) personTokens(c testClient, redirect, scope, login, pw string) (*browser, reply) {
	e.t.Helper()
	b := newBrowser(e.t, e.ts.URL)
	p := newPKCE()
	code := e.codeFor(b, authParams(c.ID, redirect, scope, p), login, pw)
	return b, e.mustRedeem(c, code, redirect, p.verifier)
}

// wantReplyError checks an RFC 6749 §5.2 error answer.
func wantReplyError(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d with error %s", r.status, r.body, status, code)
	}
}

// wantErrorPage checks that a request ended on keyshift's error page with
// status, and did not go back to any client.
func wantErrorPage(t testing.TB, b *browser, p page, status int) {
	t.Helper()
	if b.Landed != nil {
		t.Fatalf("redirected to %s, want an error page", b.Landed)
	}
	if p.status != status || !strings.HasPrefix(p.url.String(), b.Issuer+"/") {
		t.Fatalf("got %d at %s, want %d on keyshift's page:\n%s", p.status, p.url, status, p.body)
	}
}

var pageErrorRe = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// pageErrorText is the error message a page shows, or "".
func pageErrorText(p page) string {
	if m := pageErrorRe.FindStringSubmatch(p.body); m != nil {
		return m[1]
	}
	return ""
}
