package authz

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Tests of the pages people use: CSRF, sign-in throttling and refusals,
// tenants, return paths, headers and cookies. Each names, in a comment,
// the check whose removal makes it fail.

// loginForm opens the login page for an authorization request of c in b
// and returns the form's action and fields.
func (e *env) loginForm(b *browser, c testClient) (string, url.Values) {
	e.t.Helper()
	p := b.get(e.authURL(authParams(c.ID, webRedirect, "openid", newPKCE())))
	if !isLoginPage(p) {
		e.t.Fatalf("want the login page, got %d at %s", p.status, p.url)
	}
	return p.form(e.t)
}

// TestLogin_CSRF: the login form is refused (403, no session) without the
// CSRF token of the posting browser's own cookie. Guards checkCSRF in
// postLogin.
func TestLogin_CSRF(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	_, foreign := e.loginForm(newBrowser(t, e.ts.URL), c)
	tests := []struct {
		name   string
		mod    func(url.Values)
		status int
	}{
		{"no csrf_token", func(f url.Values) { f.Del("csrf_token") }, http.StatusForbidden},
		{"another browser's token", func(f url.Values) { f.Set("csrf_token", foreign.Get("csrf_token")) }, http.StatusForbidden},
		{"a forged token", func(f url.Values) { f.Set("csrf_token", strings.Repeat("A", 43)) }, http.StatusForbidden},
		{"own token (control)", func(url.Values) {}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, e.ts.URL)
			action, f := e.loginForm(b, c)
			f.Set("login", "alice")
			f.Set("password", alicePassword)
			tt.mod(f)
			p := b.post(e.ts.URL+action, f)
			if p.status != tt.status {
				t.Fatalf("status %d, want %d:\n%s", p.status, tt.status, p.body)
			}
			hasSession := b.cookie(sessionCookieName) != ""
			if hasSession != (tt.status == http.StatusOK) {
				t.Fatalf("session cookie set = %v after status %d", hasSession, p.status)
			}
			if tt.status == http.StatusForbidden {
				if p.url.Path != oauth.PathLogin || !strings.Contains(p.body, `name="csrf_token"`) {
					t.Fatalf("403 should show the login form again with a fresh token:\n%s", p.body)
				}
			}
		})
	}
}

// TestConsent_CSRF: the consent form is refused (403, no code, nothing
// remembered) without the CSRF token of the browser's cookie. Guards
// checkCSRF in handleConsent.
func TestConsent_CSRF(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	other := newBrowser(t, e.ts.URL)
	_, foreign := e.loginForm(other, c)
	tests := []struct {
		name string
		mod  func(url.Values)
		ok   bool
	}{
		{"no csrf_token", func(f url.Values) { f.Del("csrf_token") }, false},
		{"another browser's token", func(f url.Values) { f.Set("csrf_token", foreign.Get("csrf_token")) }, false},
		{"own token (control)", func(url.Values) {}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, e.ts.URL)
			q := authParams(c.ID, webRedirect, "openid", newPKCE())
			q.Set("prompt", "consent") // the control row remembers consent
			p := b.signIn(b.get(e.authURL(q)), "", "alice", alicePassword)
			if !isConsentPage(p) {
				t.Fatalf("want the consent page, got %d at %s", p.status, p.url)
			}
			action, f := p.form(t)
			f.Set("decision", "approve")
			tt.mod(f)
			got := b.post(e.ts.URL+action, f)
			if tt.ok {
				if b.callback().Get("code") == "" {
					t.Fatal("no code with the right token")
				}
				return
			}
			wantErrorPage(t, b, got, http.StatusForbidden)
			// Nothing was remembered: prompt=none still needs consent.
			q = authParams(c.ID, webRedirect, "openid", newPKCE())
			q.Set("prompt", "none")
			b.get(e.authURL(q))
			if cb := b.callback(); cb.Get("error") != oauth.CodeConsentRequired {
				t.Fatalf("after a refused consent post, prompt=none gave %v, want consent_required", cb)
			}
		})
	}
}

// TestLogin_Throttled: after FailureBurst failed sign-ins for one account
// (from many addresses) or from one address (for many accounts), even the
// right password is refused with 429 and Retry-After. Guards the
// accountLimiter and addrLimiter checks of checkPassword.
func TestLogin_Throttled(t *testing.T) {
	const burst = 3
	tests := []struct {
		name string
		// from and login of the i-th failure
		from  func(i int) string
		login func(i int) string
		// where the right password is tried last
		lastFrom string
	}{
		{
			name:  "one account, many addresses",
			from:  func(i int) string { return fmt.Sprintf("127.0.0.%d", 10+i) },
			login: func(int) string { return "alice" }, lastFrom: "127.0.0.99",
		},
		{
			name:  "one address, many accounts",
			from:  func(int) string { return "127.0.0.2" },
			login: func(i int) string { return fmt.Sprintf("nobody%d", i) }, lastFrom: "127.0.0.2",
		},
		{
			name:  "login case does not give an account fresh attempts",
			from:  func(i int) string { return fmt.Sprintf("127.0.0.%d", 10+i) },
			login: func(i int) string { return []string{"ALICE", "Alice", "alice"}[i%3] }, lastFrom: "127.0.0.99",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newOIDCEnv(t, func(c *Config) { c.FailureBurst = burst })
			c := e.webClient("acme", webRedirect)
			try := func(from, login, pw string) page {
				t.Helper()
				b := newBrowserFrom(t, e.ts.URL, from)
				action, f := e.loginForm(b, c)
				f.Set("login", login)
				f.Set("password", pw)
				return b.post(e.ts.URL+action, f)
			}
			for i := range burst - 1 {
				if p := try(tt.from(i), tt.login(i), "wrong password"); p.status != http.StatusBadRequest {
					t.Fatalf("failure %d: status %d", i, p.status)
				}
			}
			// One failure left: the right password still works (control).
			if p := try(tt.lastFrom, "alice", alicePassword); p.status != http.StatusOK || isLoginPage(p) {
				t.Fatalf("right password before the burst is used: %d at %s", p.status, p.url)
			}
			if p := try(tt.from(burst-1), tt.login(burst-1), "wrong password"); p.status != http.StatusBadRequest {
				t.Fatalf("last failure: status %d", p.status)
			}
			b := newBrowserFrom(t, e.ts.URL, tt.lastFrom)
			action, f := e.loginForm(b, c)
			f.Set("login", "alice")
			f.Set("password", alicePassword)
			resp, err := b.noFollow().PostForm(e.ts.URL+action, f)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("right password after the burst: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if b.cookie(sessionCookieName) != "" {
				t.Fatal("a throttled sign-in set a session cookie")
			}
		})
	}
}

// TestLogin_RefusalsLookAlike: an unknown user, a wrong password, a
// disabled user (right password) and a user of a disabled tenant all get
// the same page, so the form does not tell which logins exist, and none
// is signed in. Guards errBadLogin as the one answer and the u.Disabled
// and tenantActive checks of checkPassword.
func TestLogin_RefusalsLookAlike(t *testing.T) {
	e := newOIDCEnv(t)
	e.user("acme", "dora", "dora's long password", nil)
	u, err := e.st.GetUserByLogin(e.ctx, "acme", "dora")
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Tx(e.ctx, func(tx store.Tx) error {
		return tx.UpdateUser(e.ctx, u.ID, func(u store.User) (store.User, error) { u.Disabled = true; return u, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	e.tenant("frozen", store.StatusActive)
	e.user("frozen", "fred", "fred's long password", nil)
	platform := e.tenantClientForAnyone(t)
	err = e.st.Tx(e.ctx, func(tx store.Tx) error {
		return tx.UpdateTenant(e.ctx, "frozen", func(tn store.Tenant) (store.Tenant, error) { tn.Status = store.StatusDisabled; return tn, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(func() bool { return !e.srv.clients.tenantActive("frozen") })

	tests := []struct {
		name, tenant, login, pw string
	}{
		{"unknown user", "acme", "mallory", alicePassword},
		{"wrong password", "acme", "alice", "not the password"},
		{"disabled user, right password", "acme", "dora", "dora's long password"},
		{"unknown tenant", "nowhere", "alice", alicePassword},
		{"user of a disabled tenant, right password", "frozen", "fred", "fred's long password"},
	}
	var want string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, e.ts.URL)
			action, f := e.loginForm(b, platform)
			f.Set("tenant", tt.tenant)
			f.Set("login", tt.login)
			f.Set("password", tt.pw)
			p := b.post(e.ts.URL+action, f)
			if p.status != http.StatusBadRequest || b.cookie(sessionCookieName) != "" {
				t.Fatalf("status %d, session cookie %q; want 400 and none", p.status, b.cookie(sessionCookieName))
			}
			msg := pageErrorText(p)
			if want == "" {
				want = msg
			}
			if msg == "" || msg != want {
				t.Fatalf("message %q, want the same as for every refusal (%q)", msg, want)
			}
			if strings.Contains(p.body, "password\" value=") {
				t.Fatal("the page echoes the password")
			}
		})
	}
}

// tenantClientForAnyone registers a platform client, whose login page asks
// for the organisation, so one form can try any tenant.
func (e *env) tenantClientForAnyone(t *testing.T) testClient {
	t.Helper()
	e.tenant(store.PlatformTenant, store.StatusActive)
	e.waitFor(func() bool { return e.srv.clients.tenantActive(store.PlatformTenant) })
	return e.webClient(store.PlatformTenant, webRedirect)
}

// TestAuthorize_SessionOfOtherTenantNotUsed: a person signed in to one
// tenant is not signed in for another tenant's client: they get that
// tenant's login page (or login_required), and their credentials do not
// work there. Guards sessionFits in continueAuthorize.
func TestAuthorize_SessionOfOtherTenantNotUsed(t *testing.T) {
	e := newOIDCEnv(t)
	e.tenant("globex", store.StatusActive)
	acme := e.webClient("acme", webRedirect)
	globex := e.webClient("globex", webRedirect)
	b := newBrowser(t, e.ts.URL)
	e.codeFor(b, authParams(acme.ID, webRedirect, "openid", newPKCE()), "alice", alicePassword)

	t.Run("login page of the other tenant", func(t *testing.T) {
		p := b.get(e.authURL(authParams(globex.ID, webRedirect, "openid", newPKCE())))
		if !isLoginPage(p) || b.Landed != nil {
			t.Fatalf("got %d at %s (landed %v), want the login page", p.status, p.url, b.Landed)
		}
		_, f := p.form(t)
		if f.Get("tenant") != "globex" {
			t.Fatalf("login form tenant = %q, want globex", f.Get("tenant"))
		}
		if p := b.signIn(p, "", "alice", alicePassword); p.status != http.StatusBadRequest || b.Landed != nil {
			t.Fatalf("acme's alice signing in at globex: %d at %s (landed %v)", p.status, p.url, b.Landed)
		}
	})
	t.Run("prompt=none: login_required", func(t *testing.T) {
		q := authParams(globex.ID, webRedirect, "openid", newPKCE())
		q.Set("prompt", "none")
		b.get(e.authURL(q))
		if cb := b.callback(); cb.Get("error") != oauth.CodeLoginRequired {
			t.Fatalf("callback = %v, want login_required", cb)
		}
	})
	t.Run("tenant field changed on the form: still no code for globex", func(t *testing.T) {
		b := newBrowser(t, e.ts.URL)
		p := b.get(e.authURL(authParams(globex.ID, webRedirect, "openid", newPKCE())))
		action, f := p.form(t)
		f.Set("tenant", "acme")
		f.Set("login", "alice")
		f.Set("password", alicePassword)
		p = b.post(e.ts.URL+action, f)
		if b.Landed != nil || !isLoginPage(p) {
			t.Fatalf("got %d at %s (landed %v), want the login page again", p.status, p.url, b.Landed)
		}
	})
}

// TestSafeReturn: the return path after sign-in is one of keyshift's own
// flow pages, never another site. Guards safeReturn's allowlist of flow
// paths; the "//" and "\" checks before it are defence in depth (every
// value they refuse, the allowlist refuses too).
func TestSafeReturn(t *testing.T) {
	tests := []struct {
		ret  string
		safe bool
	}{
		{oauth.PathAuthorize + "?client_id=x", true},
		{oauth.PathDevice, true},
		{"/console/", true},
		{"/console", true},
		{"https://evil.example", false},
		{"https://evil.example" + oauth.PathAuthorize, false},
		{"//evil.example", false},
		{"//evil.example" + oauth.PathAuthorize, false},
		{`/\evil.example`, false},
		{`/\evil.example/console/`, false},
		{"/%2F%2Fevil.example", false},
		{"/oauth2/login", false}, // not a flow page: would loop
		{"/consoleevil", false},
		{"/console/\r\nLocation: https://evil.example", false},
		{"javascript:alert(1)", false},
		{"", false},
		{"/" + strings.Repeat("a", maxAuthorizeQuery), false},
	}
	for _, tt := range tests {
		if got := safeReturn(tt.ret); got != tt.safe {
			t.Errorf("safeReturn(%q) = %v, want %v", tt.ret, got, tt.safe)
		}
	}
}

// TestLogin_ReturnElsewhereRefused: the login page and form refuse a
// return to another site, even with the right password, so keyshift is no
// open redirector. Guards the safeReturn calls in showLogin and postLogin.
func TestLogin_ReturnElsewhereRefused(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	for _, ret := range []string{"https://evil.example", "//evil.example", `/\evil.example`} {
		t.Run(ret, func(t *testing.T) {
			b := newBrowser(t, e.ts.URL)
			p := b.get(e.ts.URL + oauth.PathLogin + "?" + url.Values{"tenant": {"acme"}, "return": {ret}}.Encode())
			wantErrorPage(t, b, p, http.StatusBadRequest)

			action, f := e.loginForm(b, c)
			f.Set("return", ret)
			f.Set("login", "alice")
			f.Set("password", alicePassword)
			resp, err := b.noFollow().PostForm(e.ts.URL+action, f)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("POST with return %q: %d Location %q, want 400 and no redirect", ret, resp.StatusCode, resp.Header.Get("Location"))
			}
			if b.cookie(sessionCookieName) != "" {
				t.Fatal("signed in despite the refused return")
			}
		})
	}
}

// TestPages_SecurityHeaders: every page (and the redirects back to the
// client) is kept out of frames and caches. Guards pageSecurityHeaders in
// renderPage and redirectStatus.
func TestPages_SecurityHeaders(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	b := newBrowser(t, e.ts.URL)
	q := authParams(c.ID, webRedirect, "openid", newPKCE())
	login := b.get(e.authURL(q))
	consent := b.signIn(login, "", "alice", alicePassword)
	bad := authParams(c.ID, "https://evil.example/cb", "openid", newPKCE())
	errPage := newBrowser(t, e.ts.URL).get(e.authURL(bad))
	logout := b.get(e.ts.URL + oauth.PathLogout)
	// The redirect back to the client with an error.
	noPKCE := authParams(c.ID, webRedirect, "openid", newPKCE())
	noPKCE.Del("code_challenge")
	resp, err := b.noFollow().Get(e.authURL(noPKCE))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	for _, tt := range []struct {
		name   string
		status int
		want   int
		h      http.Header
	}{
		{"login page", login.status, 200, login.header},
		{"consent page", consent.status, 200, consent.header},
		{"error page", errPage.status, 400, errPage.header},
		{"logout page", logout.status, 200, logout.header},
		{"error redirect", resp.StatusCode, 302, resp.Header},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status != tt.want {
				t.Fatalf("status %d, want %d", tt.status, tt.want)
			}
			if csp := tt.h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if got := tt.h.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options = %q", got)
			}
			if got := tt.h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := tt.h.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy = %q", got)
			}
		})
	}
}

// TestPages_CookieFlags: with an http issuer the session and CSRF cookies
// are HttpOnly, SameSite=Lax, host-only and path "/". Guards setCookie.
func TestPages_CookieFlags(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	b := newBrowser(t, e.ts.URL)
	action, f := e.loginForm(b, c)
	f.Set("login", "alice")
	f.Set("password", alicePassword)
	resp, err := b.noFollow().PostForm(e.ts.URL+action, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookieName {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie in %v", sessionCookieName, resp.Header["Set-Cookie"])
	}
	wantCookieFlags(t, session, false)
	// The CSRF cookie was set by the login page.
	p := newBrowser(t, e.ts.URL)
	resp, err = p.noFollow().Get(e.ts.URL + oauth.PathLogin + "?" + url.Values{"tenant": {"acme"}, "return": {oauth.PathAuthorize}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var csrf *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == csrfCookieName {
			csrf = ck
		}
	}
	if csrf == nil {
		t.Fatalf("no %s cookie in %v", csrfCookieName, resp.Header["Set-Cookie"])
	}
	wantCookieFlags(t, csrf, false)
}

func wantCookieFlags(t *testing.T, ck *http.Cookie, secure bool) {
	t.Helper()
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Secure != secure {
		t.Fatalf("cookie %s: HttpOnly %v SameSite %v Path %q Domain %q Secure %v; want HttpOnly, Lax, /, host-only, Secure %v",
			ck.Name, ck.HttpOnly, ck.SameSite, ck.Path, ck.Domain, ck.Secure, secure)
	}
}

// TestSetCookie_HTTPSIssuer: with an https issuer cookies are Secure and
// carry the __Host- prefix, and only the prefixed cookie is read back, so
// a cookie planted by a sibling subdomain is ignored. Guards
// secureCookies, cookieName and cookieValue.
func TestSetCookie_HTTPSIssuer(t *testing.T) {
	e := newOIDCEnv(t)
	s, err := New(Config{Issuer: "https://auth.example", Passwords: cheapPasswords(t)}, e.st, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.setCookie(rec, sessionCookieName, "v1", 0)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-"+sessionCookieName || cookies[0].Value != "v1" {
		t.Fatalf("cookies = %v, want one __Host-%s", cookies, sessionCookieName)
	}
	wantCookieFlags(t, cookies[0], true)

	r := httptest.NewRequest(http.MethodGet, "https://auth.example/", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookieName, Value: "planted"})
	if got := s.cookieValue(r, sessionCookieName); got != "" {
		t.Fatalf("unprefixed cookie read as %q", got)
	}
	r.AddCookie(&http.Cookie{Name: "__Host-" + sessionCookieName, Value: "real"})
	if got := s.cookieValue(r, sessionCookieName); got != "real" {
		t.Fatalf("cookieValue = %q, want the __Host- cookie", got)
	}
}
