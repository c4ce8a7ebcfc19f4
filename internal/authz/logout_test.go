package authz

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
)

// Tests of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

// logoutEnv is a signed-in browser with remembered consent and its ID
// token.
type logoutEnv struct {
	*env
	c       testClient
	b       *browser
	idToken string
}

func newLogoutEnv(t *testing.T) logoutEnv {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	b, r := e.personTokens(c, webRedirect, "openid", "alice", alicePassword)
	if r.str("id_token") == "" {
		t.Fatalf("no ID token: %s", r.body)
	}
	return logoutEnv{env: e, c: c, b: b, idToken: r.str("id_token")}
}

func (le logoutEnv) logoutURL(v url.Values) string {
	return le.ts.URL + oauth.PathLogout + "?" + v.Encode()
}

// signedIn reports whether b still has a session for le's client, by a
// prompt=none authorization (OIDC Core §3.1.2.1).
func (le logoutEnv) signedIn(t *testing.T, b *browser) bool {
	t.Helper()
	q := authParams(le.c.ID, webRedirect, "openid", newPKCE())
	q.Set("prompt", "none")
	b.get(le.authURL(q))
	cb := b.callback()
	switch {
	case cb.Get("code") != "":
		return true
	case cb.Get("error") == oauth.CodeLoginRequired:
		return false
	}
	t.Fatalf("prompt=none answered %v", cb)
	return false
}

// TestLogout_WithHint: a valid id_token_hint of the signed-in person and a
// registered post_logout_redirect_uri end the session at once and return
// there with state; prompt=none then answers login_required. Guards the
// "proven" path of handleLogout and endSession.
func TestLogout_WithHint(t *testing.T) {
	le := newLogoutEnv(t)
	if !le.signedIn(t, le.b) {
		t.Fatal("not signed in before logout")
	}
	state := randomState()
	p := le.b.get(le.logoutURL(url.Values{
		"id_token_hint": {le.idToken}, "post_logout_redirect_uri": {webRedirect + "/bye"}, "state": {state},
	}))
	if le.b.Landed == nil {
		t.Fatalf("not returned to the client: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if got := le.b.Landed.Scheme + "://" + le.b.Landed.Host + le.b.Landed.Path; got != webRedirect+"/bye" {
		t.Fatalf("returned to %s", got)
	}
	if le.b.callback().Get("state") != state {
		t.Fatalf("state = %q, want %q", le.b.callback().Get("state"), state)
	}
	if le.b.cookie(sessionCookieName) != "" {
		t.Fatal("session cookie not cleared")
	}
	if le.signedIn(t, le.b) {
		t.Fatal("still signed in after logout")
	}
}

// TestLogout_Refused: a post_logout_redirect_uri not registered for the
// client (or with no client to check it against) and a hint not issued
// here get an error page, and the session stays. Guards the
// PostLogoutRedirectURIs check and parseIDTokenHint.
func TestLogout_Refused(t *testing.T) {
	le := newLogoutEnv(t)
	for _, tt := range []struct {
		name string
		q    url.Values
	}{
		{"unregistered post_logout_redirect_uri", url.Values{"id_token_hint": {le.idToken}, "post_logout_redirect_uri": {"https://evil.example/bye"}}},
		{"the client's redirect_uri, not a post-logout one", url.Values{"id_token_hint": {le.idToken}, "post_logout_redirect_uri": {webRedirect}}},
		{"post_logout_redirect_uri without hint or client_id", url.Values{"post_logout_redirect_uri": {webRedirect + "/bye"}}},
		{"hint that is not an ID token of ours", url.Values{"id_token_hint": {le.idToken[:len(le.idToken)-4] + "AAAA"}, "post_logout_redirect_uri": {webRedirect + "/bye"}}},
		{"client_id differing from the hint's audience", url.Values{"id_token_hint": {le.idToken}, "client_id": {"ksc_other"}, "post_logout_redirect_uri": {webRedirect + "/bye"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := le.b.get(le.logoutURL(tt.q))
			wantErrorPage(t, le.b, p, http.StatusBadRequest)
			if !le.signedIn(t, le.b) {
				t.Fatal("a refused logout ended the session")
			}
		})
	}
}

// TestLogout_WithoutHintAsks: without a hint, logout shows a confirmation
// page and the session stays until the person confirms; then it ends.
// Guards the confirmation branch of handleLogout.
func TestLogout_WithoutHintAsks(t *testing.T) {
	le := newLogoutEnv(t)
	for _, q := range []url.Values{
		{},
		{"client_id": {le.c.ID}, "post_logout_redirect_uri": {webRedirect + "/bye"}},
	} {
		p := le.b.get(le.logoutURL(q))
		if p.status != http.StatusOK || le.b.Landed != nil {
			t.Fatalf("logout %v: %d at %s (landed %v), want the confirmation page", q, p.status, p.url, le.b.Landed)
		}
		if action, f := p.form(t); action != oauth.PathLogout || f.Get("csrf_token") == "" {
			t.Fatalf("confirmation form: action %q fields %v", action, f)
		}
		if !le.signedIn(t, le.b) {
			t.Fatal("asking for confirmation ended the session")
		}
	}
	// Alice's hint in bob's browser proves nothing about bob's session.
	le.user("acme", "bob", "bob's long password", nil)
	bob, _ := le.personTokens(le.c, webRedirect, "openid", "bob", "bob's long password")
	p := bob.get(le.logoutURL(url.Values{"id_token_hint": {le.idToken}}))
	if p.status != http.StatusOK || bob.Landed != nil || !le.signedIn(t, bob) {
		t.Fatalf("another user's hint: %d at %s, want the confirmation page and the session kept", p.status, p.url)
	}

	p = le.b.get(le.logoutURL(url.Values{"client_id": {le.c.ID}, "post_logout_redirect_uri": {webRedirect + "/bye"}, "state": {"s1"}}))
	action, f := p.form(t)
	f.Set("decision", "logout")
	le.b.post(le.ts.URL+action, f)
	if le.b.Landed == nil || le.b.Landed.Path != "/callback/bye" || le.b.callback().Get("state") != "s1" {
		t.Fatalf("after confirming: landed %v", le.b.Landed)
	}
	if le.signedIn(t, le.b) {
		t.Fatal("still signed in after confirming logout")
	}
}

// TestLogout_ConfirmationNeedsCSRF: the confirmation form without the
// browser's CSRF token is refused with 403 and the session stays. Guards
// checkCSRF in handleLogout.
func TestLogout_ConfirmationNeedsCSRF(t *testing.T) {
	le := newLogoutEnv(t)
	_, foreign := le.loginForm(newBrowser(t, le.ts.URL), le.c)
	for _, tt := range []struct {
		name string
		mod  func(url.Values)
	}{
		{"no csrf_token", func(f url.Values) { f.Del("csrf_token") }},
		{"another browser's token", func(f url.Values) { f.Set("csrf_token", foreign.Get("csrf_token")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := le.b.get(le.logoutURL(url.Values{}))
			action, f := p.form(t)
			f.Set("decision", "logout")
			tt.mod(f)
			got := le.b.post(le.ts.URL+action, f)
			wantErrorPage(t, le.b, got, http.StatusForbidden)
			if !le.signedIn(t, le.b) {
				t.Fatal("logout without a valid CSRF token ended the session")
			}
		})
	}
	t.Run("GET with decision=logout and no token", func(t *testing.T) {
		p := le.b.get(le.logoutURL(url.Values{"decision": {"logout"}}))
		wantErrorPage(t, le.b, p, http.StatusForbidden)
		if !le.signedIn(t, le.b) {
			t.Fatal("ended the session")
		}
	})
}
