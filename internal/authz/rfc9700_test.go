package authz

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Tests of the code flow against RFC 9700 (OAuth 2.0 Security BCP), RFC
// 7636 (PKCE), RFC 9207 (iss) and OpenID Connect Core. Each names, in a
// comment, the check whose removal makes it fail.

// TestAuthorize_RedirectURI: the client and its redirect URI are checked
// before anything else, and a refusal is a page on keyshift, never a
// redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3). Guards the checks of
// parseAuthorizeRequest up to "From here on", and redirectURIRegistered.
func TestAuthorize_RedirectURI(t *testing.T) {
	e := newOIDCEnv(t)
	const loopback = "http://127.0.0.1/callback"
	c := e.webClient("acme", webRedirect, func(sc *store.Client) { sc.RedirectURIs = []string{webRedirect, loopback} })
	disabled := e.webClient("acme", webRedirect, func(sc *store.Client) { sc.Status = store.StatusDisabled })
	port := "49152"
	if strings.HasSuffix(e.ts.URL, ":"+port) {
		port = "49153" // the browser must see the loopback URI as elsewhere
	}
	p := newPKCE()
	set := func(k, v string) func(url.Values) { return func(q url.Values) { q.Set(k, v) } }
	tests := []struct {
		name string
		mod  func(url.Values)
		// accepted: the request goes on to the login page; else an error page.
		accepted bool
	}{
		{name: "registered URI (control)", accepted: true},
		{name: "unregistered URI: page, not a redirect (redirectURIRegistered)", mod: set("redirect_uri", "https://evil.example/callback")},
		{name: "registered URI with a path suffix (exact match)", mod: set("redirect_uri", webRedirect+"/x")},
		{name: "registered URI with a query added (exact match)", mod: set("redirect_uri", webRedirect+"?next=https://evil.example")},
		{name: "unregistered URI with another error: still a page (order of checks)", mod: func(q url.Values) {
			q.Set("redirect_uri", "https://evil.example/callback")
			q.Del("code_challenge")
		}},
		{name: "missing redirect_uri (required of every client)", mod: func(q url.Values) { q.Del("redirect_uri") }},
		{name: "unknown client", mod: set("client_id", "ksc_doesnotexist")},
		{name: "missing client_id", mod: func(q url.Values) { q.Del("client_id") }},
		{name: "disabled client (authorizeClient)", mod: set("client_id", disabled.ID)},
		{name: "loopback IP, another port: accepted (RFC 8252 §7.3)", mod: set("redirect_uri", "http://127.0.0.1:"+port+"/callback"), accepted: true},
		{name: "loopback IP, another path: refused", mod: set("redirect_uri", "http://127.0.0.1:"+port+"/other")},
		{name: "loopback IP, another port and a query: refused", mod: set("redirect_uri", "http://127.0.0.1:"+port+"/callback?x=1")},
		{name: "localhost is not a loopback IP literal (RFC 8252 §8.3)", mod: set("redirect_uri", "http://localhost:"+port+"/callback")},
		{name: "another loopback address: refused", mod: set("redirect_uri", "http://127.0.0.2:"+port+"/callback")},
		{name: "https web URI with another port: refused", mod: set("redirect_uri", "https://app.example:8443/callback")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams(c.ID, webRedirect, "openid", p)
			if tt.mod != nil {
				tt.mod(q)
			}
			b := newBrowser(t, e.ts.URL)
			pg := b.get(e.authURL(q))
			if tt.accepted {
				if !isLoginPage(pg) {
					t.Fatalf("want the login page, got %d at %s (landed %v):\n%s", pg.status, pg.url, b.Landed, pg.body)
				}
				return
			}
			wantErrorPage(t, b, pg, http.StatusBadRequest)
			if !strings.Contains(pg.body, "invalid_request") {
				t.Fatalf("error page does not name the error:\n%s", pg.body)
			}
		})
	}
}

// TestAuthorize_PKCERequired: without an S256 challenge the client gets
// invalid_request at its redirect URI (RFC 7636 §4.4.1, RFC 9700 §2.1.1).
// Guards parsePKCE: the method check and the length/alphabet check each
// fail a row; a missing challenge is refused by both the empty check and
// the length check, so removing one alone leaves that row passing.
func TestAuthorize_PKCERequired(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	p := newPKCE()
	tests := []struct {
		name string
		mod  func(url.Values)
	}{
		{"code_challenge missing", func(q url.Values) { q.Del("code_challenge") }},
		{"code_challenge_method=plain", func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", p.verifier) }},
		{"code_challenge_method=plain with an S256-shaped challenge", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"code_challenge_method absent (means plain)", func(q url.Values) { q.Del("code_challenge_method") }},
		{"code_challenge_method lower case", func(q url.Values) { q.Set("code_challenge_method", "s256") }},
		{"challenge too short for a SHA-256", func(q url.Values) { q.Set("code_challenge", p.challenge[:42]) }},
		{"challenge not base64url", func(q url.Values) { q.Set("code_challenge", strings.Repeat("+", 43)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams(c.ID, webRedirect, "openid", p)
			tt.mod(q)
			b := newBrowser(t, e.ts.URL)
			pg := b.get(e.authURL(q))
			if b.Landed == nil {
				t.Fatalf("not redirected to the client; got %d at %s:\n%s", pg.status, pg.url, pg.body)
			}
			cb := b.callback()
			if got := b.Landed.Scheme + "://" + b.Landed.Host + b.Landed.Path; got != webRedirect {
				t.Fatalf("redirected to %s, want %s", got, webRedirect)
			}
			if cb.Get("error") != oauth.CodeInvalidRequest || cb.Get("code") != "" {
				t.Fatalf("callback = %v, want error=invalid_request and no code", cb)
			}
			if cb.Get("state") != q.Get("state") || cb.Get("iss") != e.ts.URL {
				t.Fatalf("callback = %v, want state and iss", cb)
			}
		})
	}
	t.Run("S256 (control)", func(t *testing.T) {
		b := newBrowser(t, e.ts.URL)
		if pg := b.get(e.authURL(authParams(c.ID, webRedirect, "openid", p))); !isLoginPage(pg) {
			t.Fatalf("valid request did not reach the login page: %d %s", pg.status, pg.url)
		}
	})
}

// TestToken_CodeVerifier: the token endpoint checks the verifier against
// the code's challenge (RFC 7636 §4.6). Guards pkceMatches and
// validVerifier in authorizationCodeGrant (a missing verifier is refused
// by both the verifier == "" check and validVerifier).
func TestToken_CodeVerifier(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	b := newBrowser(t, e.ts.URL)
	tests := []struct {
		name     string
		verifier func(right string) string
		status   int
		code     string
	}{
		{"wrong verifier", func(string) string { return oauth2.GenerateVerifier() }, 400, oauth.CodeInvalidGrant},
		{"verifier of another length", func(r string) string { return r + "A" }, 400, oauth.CodeInvalidGrant},
		{"verifier missing", func(string) string { return "" }, 400, oauth.CodeInvalidRequest},
		{"verifier with characters outside RFC 7636", func(r string) string { return r[:42] + "+" }, 400, oauth.CodeInvalidRequest},
		{"challenge sent as verifier", nil, 400, oauth.CodeInvalidGrant},
		{"right verifier (control)", func(r string) string { return r }, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPKCE()
			code := e.codeFor(b, authParams(c.ID, webRedirect, "core.invoice.read", p), "alice", alicePassword)
			v := p.challenge
			if tt.verifier != nil {
				v = tt.verifier(p.verifier)
			}
			r := e.redeem(c, code, webRedirect, v)
			if tt.status == 200 {
				if r.status != 200 || r.str("access_token") == "" {
					t.Fatalf("got %d %s, want tokens", r.status, r.body)
				}
				return
			}
			wantReplyError(t, r, tt.status, tt.code)
		})
	}
}

// TestToken_CodeRefused: a code is redeemed only within its 60 s, by its
// own client, with the redirect URI it was issued for (RFC 6749 §4.1.3).
// (Replay is TestOIDC_CodeReplayRevokesTokens.) Guards, per row, the
// expiry, client and redirect_uri checks of authorizationCodeGrant.
func TestToken_CodeRefused(t *testing.T) {
	e := newOIDCEnv(t)
	const second = "https://app.example/other-callback"
	c := e.webClient("acme", webRedirect, func(sc *store.Client) { sc.RedirectURIs = []string{webRedirect, second} })
	other := e.webClient("acme", webRedirect)
	b := newBrowser(t, e.ts.URL)
	tests := []struct {
		name     string
		wait     time.Duration
		by       testClient
		redirect string
		ok       bool
	}{
		{name: "redeemed at 59 s (control)", wait: 59 * time.Second, by: c, redirect: webRedirect, ok: true},
		{name: "expired at 60 s", wait: authCodeTTL * time.Second, by: c, redirect: webRedirect},
		{name: "expired long ago", wait: time.Hour, by: c, redirect: webRedirect},
		{name: "code of another client", by: other, redirect: webRedirect},
		{name: "redirect_uri differs (another registered one)", by: c, redirect: second},
		{name: "redirect_uri missing", by: c, redirect: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPKCE()
			code := e.codeFor(b, authParams(c.ID, webRedirect, "core.invoice.read", p), "alice", alicePassword)
			e.clock.Advance(tt.wait)
			r := e.redeem(tt.by, code, tt.redirect, p.verifier)
			if tt.ok {
				if r.status != 200 {
					t.Fatalf("got %d %s, want tokens", r.status, r.body)
				}
				return
			}
			wantReplyError(t, r, 400, oauth.CodeInvalidGrant)
		})
	}
}

// TestToken_RefreshTokenOnlyWithOfflineAccess: a refresh token is issued
// only when offline_access was granted (OIDC Core §11). Guards the
// offline_access test of wantsRefresh.
func TestToken_RefreshTokenOnlyWithOfflineAccess(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	for _, tt := range []struct {
		scope       string
		wantRefresh bool
	}{
		{"core.invoice.read", false},
		{"core.invoice.read offline_access", true},
	} {
		t.Run(tt.scope, func(t *testing.T) {
			_, r := e.personTokens(c, webRedirect, tt.scope, "alice", alicePassword)
			if got := r.str("refresh_token") != ""; got != tt.wantRefresh {
				t.Fatalf("refresh token issued = %v, want %v (%s)", got, tt.wantRefresh, r.body)
			}
		})
	}
}

// TestRefresh_OtherClientsTokenRefused: a refresh token works only for the
// client it was issued to (RFC 6749 §6), and the refusal does not rotate
// it away from its owner. Guards the ClientID check of refreshTokenGrant.
func TestRefresh_OtherClientsTokenRefused(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	other := e.webClient("acme", webRedirect)
	_, r := e.personTokens(c, webRedirect, "core.invoice.read offline_access", "alice", alicePassword)
	rt := r.str("refresh_token")
	wantReplyError(t, e.refresh(other, rt, ""), 400, oauth.CodeInvalidGrant)
	if got := e.refresh(c, rt, ""); got.status != 200 {
		t.Fatalf("owner's refresh after the refusal: %d %s", got.status, got.body)
	}
}

// TestRefresh_AbsoluteLifetime: a family lives RefreshTokenTTL from the
// sign-in, and rotation does not extend it (RFC 9700 §4.14.2). Guards the
// ExpiresAt check of refreshTokenGrant.
func TestRefresh_AbsoluteLifetime(t *testing.T) {
	const ttl = 3 * time.Hour
	e := newOIDCEnv(t, func(c *Config) { c.RefreshTokenTTL = ttl })
	c := e.webClient("acme", webRedirect)
	_, r := e.personTokens(c, webRedirect, "core.invoice.read offline_access", "alice", alicePassword)
	rt := r.str("refresh_token")

	e.clock.Advance(ttl - time.Hour)
	r = e.refresh(c, rt, "")
	if r.status != 200 || r.str("refresh_token") == "" {
		t.Fatalf("refresh within the lifetime: %d %s", r.status, r.body)
	}
	rt = r.str("refresh_token")
	e.clock.Advance(time.Hour) // the family's end, though rt is an hour old
	wantReplyError(t, e.refresh(c, rt, ""), 400, oauth.CodeInvalidGrant)
}

// TestRefresh_ScopeMayNarrowNotWiden: a refresh may ask for fewer of the
// granted scopes, never more (RFC 6749 §6), and the family keeps the full
// grant. Guards the outside(req.scopes, scopes) check of refreshTokenGrant.
func TestRefresh_ScopeMayNarrowNotWiden(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect, func(sc *store.Client) {
		sc.Scopes = []string{"core.invoice.read", "core.invoice.write"}
	})
	_, r := e.personTokens(c, webRedirect, "core.invoice.read core.invoice.write offline_access", "alice", alicePassword)
	rt := r.str("refresh_token")
	tests := []struct {
		scope     string
		wantScope string // "" for a refusal
	}{
		{"core.invoice.read", "core.invoice.read"},
		{"openid", ""}, // not granted, though the client may ask for it
		{"core.invoice.read core.invoice.delete", ""},               // not even the client's
		{"", "core.invoice.read core.invoice.write offline_access"}, // no scope: the whole grant again
	}
	for _, tt := range tests {
		r := e.refresh(c, rt, tt.scope)
		if tt.wantScope == "" {
			wantReplyError(t, r, 400, oauth.CodeInvalidScope)
			continue
		}
		if r.status != 200 || r.str("scope") != tt.wantScope {
			t.Fatalf("refresh with scope %q: %d %s, want scope %q", tt.scope, r.status, r.body, tt.wantScope)
		}
		rt = r.str("refresh_token")
	}
}

// TestRefresh_DisabledUserRefused: a disabled user's refresh tokens stop
// working, and the family stays revoked when the user is enabled again.
// Guards the u.Disabled check of refreshTokenGrant.
func TestRefresh_DisabledUserRefused(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	_, r := e.personTokens(c, webRedirect, "core.invoice.read offline_access", "alice", alicePassword)
	rt := r.str("refresh_token")
	setDisabled := func(disabled bool) {
		t.Helper()
		u, err := e.st.GetUserByLogin(e.ctx, "acme", "alice")
		if err != nil {
			t.Fatal(err)
		}
		err = e.st.Tx(e.ctx, func(tx store.Tx) error {
			return tx.UpdateUser(e.ctx, u.ID, func(u store.User) (store.User, error) { u.Disabled = disabled; return u, nil })
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setDisabled(true)
	wantReplyError(t, e.refresh(c, rt, ""), 400, oauth.CodeInvalidGrant)
	setDisabled(false)
	wantReplyError(t, e.refresh(c, rt, ""), 400, oauth.CodeInvalidGrant)

	t.Run("the access token the client holds is revoked", func(t *testing.T) {
		// Guards the user check before rotation in refreshTokenGrant: done
		// after, it would revoke a never-issued jti and leave this one valid.
		jti := jtiOf(t, r.str("access_token"))
		for deadline := time.Now().Add(time.Second); !e.srv.revoked.revoked(jti); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the issued access token was not revoked")
			}
		}
	})
}

// TestIDToken_Nonce: the ID token carries the request's nonce (OIDC Core
// §3.1.3.7 step 11), none when none was sent, and a refreshed ID token
// none at all with the original auth_time (§12.2). Guards Nonce in
// idToken and in the stored code.
func TestIDToken_Nonce(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	ctx := oidc.ClientContext(e.ctx, e.ts.Client())
	rp := e.oidcClient(ctx, c, webRedirect, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	b := newBrowser(t, e.ts.URL)
	for _, nonce := range []string{randomState(), "n-0S6_WzA2Mj", ""} {
		v := oauth2.GenerateVerifier()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
		if nonce != "" {
			opts = append(opts, oidc.Nonce(nonce))
		}
		p := b.get(rp.conf.AuthCodeURL(randomState(), opts...))
		if isLoginPage(p) {
			p = b.signIn(p, "", "alice", alicePassword)
		}
		if isConsentPage(p) {
			b.decide(p, "approve")
		}
		tok, err := rp.conf.Exchange(ctx, b.callback().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		idt, err := rp.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if idt.Nonce != nonce {
			t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
		}
		if _, has := jwtClaims(t, tok.Extra("id_token").(string))["nonce"]; has != (nonce != "") {
			t.Fatalf("nonce claim present = %v with request nonce %q", has, nonce)
		}
		// Refresh: a new ID token without nonce, same auth_time.
		e.clock.Advance(time.Minute)
		fresh, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		rawFresh, _ := fresh.Extra("id_token").(string)
		fid, err := rp.verifier.Verify(ctx, rawFresh)
		if err != nil {
			t.Fatalf("verify refreshed ID token: %v", err)
		}
		if fid.Nonce != "" || fid.Subject != idt.Subject || !authTimeOf(t, rawFresh).Equal(authTimeOf(t, tok.Extra("id_token").(string))) {
			t.Fatalf("refreshed ID token nonce %q sub %s auth_time %v, want no nonce, sub %s and the original auth_time",
				fid.Nonce, fid.Subject, authTimeOf(t, rawFresh), idt.Subject)
		}
	}
}

// TestAuthorize_StateAndIss: every redirect back to the client, success
// or error, carries the request's state and iss (RFC 6749 §4.1.2, RFC 9207
// §2). Guards addQuery's state and iss.
func TestAuthorize_StateAndIss(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	tests := []struct {
		name      string
		mod       func(url.Values)
		decision  string // on the consent page
		wantError string // "" for a code
	}{
		{name: "code", decision: "approve"},
		{name: "denied at consent", mod: func(q url.Values) { q.Set("prompt", "consent") }, decision: "deny", wantError: oauth.CodeAccessDenied},
		{name: "invalid request before sign-in", mod: func(q url.Values) { q.Del("code_challenge") }, wantError: oauth.CodeInvalidRequest},
		{name: "unsupported response_type", mod: func(q url.Values) { q.Set("response_type", "token") }, wantError: oauth.CodeUnsupportedResponseType},
		{name: "invalid scope", mod: func(q url.Values) { q.Set("scope", "core.invoice.write") }, wantError: oauth.CodeInvalidScope},
		{name: "prompt=none without a session", mod: func(q url.Values) { q.Set("prompt", "none") }, wantError: oauth.CodeLoginRequired},
		{name: "no state sent: none returned", mod: func(q url.Values) { q.Del("state") }, decision: "approve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams(c.ID, webRedirect, "openid core.invoice.read", newPKCE())
			q.Set("state", "st/"+randomState()+"+&=") // must come back exactly
			if tt.mod != nil {
				tt.mod(q)
			}
			b := newBrowser(t, e.ts.URL)
			p := b.get(e.authURL(q))
			if isLoginPage(p) {
				p = b.signIn(p, "", "alice", alicePassword)
			}
			if b.Landed == nil {
				b.decide(p, tt.decision)
			}
			cb := b.callback()
			if cb.Get("error") != tt.wantError || (tt.wantError == "") != (cb.Get("code") != "") {
				t.Fatalf("callback = %v, want error %q", cb, tt.wantError)
			}
			if got, sent := cb["state"], q["state"]; !slices.Equal(got, sent) {
				t.Fatalf("state = %q, want %q", got, sent)
			}
			if cb.Get("iss") != e.ts.URL {
				t.Fatalf("iss = %q, want %q", cb.Get("iss"), e.ts.URL)
			}
		})
	}
}

// TestAuthorize_PromptNone: prompt=none never shows a page; it answers
// login_required or consent_required at the redirect URI, and cannot be
// combined with other values (OIDC Core §3.1.2.1, §3.1.2.6). Guards the
// prompt.none branches of continueAuthorize and parsePrompt.
func TestAuthorize_PromptNone(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	signedIn := newBrowser(t, e.ts.URL)
	p := signedIn.get(e.authURL(authParams(c.ID, webRedirect, "openid", newPKCE())))
	signedIn.signIn(p, "", "alice", alicePassword) // now on the consent page; not approved
	tests := []struct {
		name   string
		b      *browser
		prompt string
		want   string
	}{
		{"no session", newBrowser(t, e.ts.URL), "none", oauth.CodeLoginRequired},
		{"session, no consent", signedIn, "none", oauth.CodeConsentRequired},
		{"none with login", signedIn, "none login", oauth.CodeInvalidRequest},
		{"none with consent", signedIn, "consent none", oauth.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams(c.ID, webRedirect, "openid", newPKCE())
			q.Set("prompt", tt.prompt)
			pg := tt.b.get(e.authURL(q))
			if tt.b.Landed == nil {
				t.Fatalf("prompt=%s showed a page: %d %s", tt.prompt, pg.status, pg.url)
			}
			if cb := tt.b.callback(); cb.Get("error") != tt.want || cb.Get("state") != q.Get("state") {
				t.Fatalf("callback = %v, want error %s with state", cb, tt.want)
			}
		})
	}
}

// TestAuthorize_PromptLoginForcesSignIn: prompt=login shows the login page
// to a signed-in person, and once they sign in the flow goes on (no loop).
// Guards req.prompt.login in continueAuthorize and afterLoginURL.
func TestAuthorize_PromptLoginForcesSignIn(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	b := newBrowser(t, e.ts.URL)
	e.codeFor(b, authParams(c.ID, webRedirect, "openid", newPKCE()), "alice", alicePassword)
	before := b.cookie(sessionCookieName)

	q := authParams(c.ID, webRedirect, "openid", newPKCE())
	q.Set("prompt", "login")
	p := b.get(e.authURL(q))
	if !isLoginPage(p) {
		t.Fatalf("prompt=login with a session: got %d at %s (landed %v), want the login page", p.status, p.url, b.Landed)
	}
	b.signIn(p, "", "alice", alicePassword)
	if cb := b.callback(); cb.Get("code") == "" {
		t.Fatalf("after signing in again: %v", cb)
	}
	if after := b.cookie(sessionCookieName); after == "" || after == before {
		t.Fatal("signing in again did not start a new session")
	}
}

// TestAuthorize_MaxAge: max_age=0 makes a signed-in person sign in again
// and the ID token's auth_time is that new sign-in; a max_age the session
// meets does not (OIDC Core §3.1.2.1). Guards authTimeOK in
// continueAuthorize and AuthTime of the session and the code.
func TestAuthorize_MaxAge(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	ctx := oidc.ClientContext(e.ctx, e.ts.Client())
	rp := e.oidcClient(ctx, c, webRedirect, oidc.ScopeOpenID)
	b := newBrowser(t, e.ts.URL)
	e.codeFor(b, authParams(c.ID, webRedirect, "openid", newPKCE()), "alice", alicePassword)
	signInAt := e.clock.Now()

	// Each row's session age is what the previous rows left; a sign-in
	// (wantLogin) makes it 0.
	for _, tt := range []struct {
		advance   time.Duration
		maxAge    string
		wantLogin bool
	}{
		{10 * time.Minute, "3600", false},
		{0, "600", false}, // exactly the session's age: still fresh
		{0, "599", true},
		{time.Second, "0", true},
	} {
		t.Run("max_age="+tt.maxAge, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			v := oauth2.GenerateVerifier()
			p := b.get(rp.conf.AuthCodeURL(randomState(), oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("max_age", tt.maxAge)))
			if isLoginPage(p) != tt.wantLogin {
				t.Fatalf("login page shown = %v, want %v (got %d at %s)", isLoginPage(p), tt.wantLogin, p.status, p.url)
			}
			if tt.wantLogin {
				signInAt = e.clock.Now()
				b.signIn(p, "", "alice", alicePassword)
			}
			tok, err := rp.conf.Exchange(ctx, b.callback().Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			if _, err := rp.verifier.Verify(ctx, raw); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got := authTimeOf(t, raw); !got.Equal(signInAt) {
				t.Fatalf("auth_time = %v, want %v", got, signInAt)
			}
		})
	}
}

// authTimeOf reads an ID token's auth_time.
func authTimeOf(t testing.TB, idToken string) time.Time {
	t.Helper()
	at, ok := jwtClaims(t, idToken)["auth_time"].(float64)
	if !ok {
		t.Fatalf("ID token has no auth_time")
	}
	return time.Unix(int64(at), 0)
}

// TestAuthorize_RememberedConsent: consent is remembered per user and
// client; a request within it skips the page, a new scope, another client
// or prompt=consent shows it again. Guards needsConsent and
// rememberConsent.
func TestAuthorize_RememberedConsent(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect, func(sc *store.Client) { sc.Scopes = []string{"core.invoice.read", "core.invoice.write"} })
	other := e.webClient("acme", webRedirect)
	b := newBrowser(t, e.ts.URL)
	steps := []struct {
		name        string
		client      testClient
		scope       string
		prompt      string
		wantConsent bool
	}{
		{"first time", c, "openid core.invoice.read", "", true},
		{"same scopes", c, "openid core.invoice.read", "", false},
		{"fewer scopes", c, "core.invoice.read", "", false},
		{"a new scope", c, "openid core.invoice.read core.invoice.write", "", true},
		{"the new scope alone, now remembered", c, "core.invoice.write", "", false},
		{"prompt=consent", c, "openid", "consent", true},
		{"another client, same scopes", other, "openid core.invoice.read", "", true},
	}
	for _, st := range steps {
		q := authParams(st.client.ID, webRedirect, st.scope, newPKCE())
		if st.prompt != "" {
			q.Set("prompt", st.prompt)
		}
		p := b.get(e.authURL(q))
		if isLoginPage(p) {
			p = b.signIn(p, "", "alice", alicePassword)
		}
		if got := isConsentPage(p); got != st.wantConsent {
			t.Fatalf("%s: consent page shown = %v, want %v (at %s, landed %v)", st.name, got, st.wantConsent, p.url, b.Landed)
		}
		if st.wantConsent {
			b.decide(p, "approve")
		}
		if b.callback().Get("code") == "" {
			t.Fatalf("%s: no code", st.name)
		}
	}
}

// TestAuthorize_TenantAdminScopeOnlyForAdmins: keyshift:tenant-admin asked
// for a person without the admin role is dropped from the grant (and not
// shown on the consent page); an admin gets it (RFC 6749 §3.3). Guards
// entitledScopes.
func TestAuthorize_TenantAdminScopeOnlyForAdmins(t *testing.T) {
	e := newOIDCEnv(t)
	e.user("acme", "bob", "bob's long password", []string{store.RoleAdmin})
	c := e.webClient("acme", webRedirect, func(sc *store.Client) {
		sc.Scopes = []string{"core.invoice.read", oauth.ScopeTenantAdmin, oauth.ScopeAdmin}
	})
	tests := []struct {
		login, pw string
		want      string
	}{
		{"alice", alicePassword, "openid core.invoice.read"},
		{"bob", "bob's long password", "openid core.invoice.read keyshift:tenant-admin"},
	}
	for _, tt := range tests {
		t.Run(tt.login, func(t *testing.T) {
			b := newBrowser(t, e.ts.URL)
			p := newPKCE()
			pg := b.signIn(b.get(e.authURL(authParams(c.ID, webRedirect, "openid core.invoice.read keyshift:tenant-admin", p))), "", tt.login, tt.pw)
			if shown := strings.Contains(pg.body, "<code>"+oauth.ScopeTenantAdmin+"</code>"); shown != strings.Contains(tt.want, oauth.ScopeTenantAdmin) {
				t.Fatalf("consent page lists %s = %v for %s", oauth.ScopeTenantAdmin, shown, tt.login)
			}
			b.decide(pg, "approve")
			r := e.mustRedeem(c, b.callback().Get("code"), webRedirect, p.verifier)
			if r.str("scope") != tt.want {
				t.Fatalf("granted scope %q, want %q", r.str("scope"), tt.want)
			}
			if got := jwtClaims(t, r.str("access_token"))["scope"]; got != tt.want {
				t.Fatalf("access token scope %v, want %q", got, tt.want)
			}
		})
	}
	t.Run("keyshift:admin is refused to a tenant's client", func(t *testing.T) {
		// allowedScopes drops it from a tenant client, so it is not
		// authorizable at all.
		b := newBrowser(t, e.ts.URL)
		b.get(e.authURL(authParams(c.ID, webRedirect, "openid "+oauth.ScopeAdmin, newPKCE())))
		if cb := b.callback(); cb.Get("error") != oauth.CodeInvalidScope {
			t.Fatalf("callback = %v, want invalid_scope", cb)
		}
	})
}

// TestAuthorize_OfflineAccessNeedsRefreshGrant: offline_access is refused
// (invalid_scope) for a client not registered for refresh tokens. Guards
// the refresh_token condition of authorizableScopes.
func TestAuthorize_OfflineAccessNeedsRefreshGrant(t *testing.T) {
	e := newOIDCEnv(t)
	withRefresh := e.webClient("acme", webRedirect)
	without := e.webClient("acme", webRedirect, func(sc *store.Client) { sc.GrantTypes = []string{oauth.GrantAuthorizationCode} })
	for _, tt := range []struct {
		name     string
		c        testClient
		wantPage bool
	}{
		{"client with the refresh_token grant (control)", withRefresh, true},
		{"client without it", without, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, e.ts.URL)
			p := b.get(e.authURL(authParams(tt.c.ID, webRedirect, "openid offline_access", newPKCE())))
			if tt.wantPage {
				if !isLoginPage(p) {
					t.Fatalf("got %d at %s, want the login page", p.status, p.url)
				}
				return
			}
			if cb := b.callback(); cb.Get("error") != oauth.CodeInvalidScope {
				t.Fatalf("callback = %v, want invalid_scope", cb)
			}
		})
	}
}

// TestRevoke_RefreshTokenRevokesFamily: revoking a refresh token ends its
// family and the family's access token (RFC 7009 §2.1); another client's
// attempt is answered 200 and changes nothing (§2.2). Guards
// revokeRefresh.
func TestRevoke_RefreshTokenRevokesFamily(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	other := e.webClient("acme", webRedirect)
	for _, tt := range []struct {
		name    string
		by      testClient
		revoked bool
	}{
		{"another client: ignored", other, false},
		{"the owner", c, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, r := e.personTokens(c, webRedirect, "core.invoice.read offline_access", "alice", alicePassword)
			// Rotate once so the family has history: revoking the current
			// token must end the whole family.
			r = e.refresh(c, r.str("refresh_token"), "")
			if r.status != 200 {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			rt, at := r.str("refresh_token"), r.str("access_token")
			rv := e.post(oauth.PathRevoke, &tt.by, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}})
			if rv.status != 200 || len(rv.body) != 0 {
				t.Fatalf("revoke: %d %s, want 200 and no body", rv.status, rv.body)
			}
			if !tt.revoked {
				if _, err := e.srv.Authenticate(e.ctx, at); err != nil {
					t.Fatalf("access token refused after another client's revocation: %v", err)
				}
				if got := e.refresh(c, rt, ""); got.status != 200 {
					t.Fatalf("refresh after another client's revocation: %d %s", got.status, got.body)
				}
				return
			}
			wantReplyError(t, e.refresh(c, rt, ""), 400, oauth.CodeInvalidGrant)
			e.waitFor(func() bool { _, err := e.srv.Authenticate(e.ctx, at); return err != nil })
		})
	}
}
