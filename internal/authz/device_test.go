package authz

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// deviceClient registers a client of the device flow (with refresh
// tokens) in tenant; mod may change it.
func (e *env) deviceClient(tenant string, mod ...func(*store.Client)) testClient {
	e.t.Helper()
	return e.client(tenant, []string{"core.invoice.read"}, append([]func(*store.Client){func(c *store.Client) {
		c.Name = "Invoice CLI"
		c.GrantTypes = []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}
	}}, mod...)...)
}

// deviceStart is a device authorization response.
type deviceStart struct {
	deviceCode, userCode string
}

// startDevice asks for a device code for c (Basic authentication).
func (e *env) startDevice(c testClient, scope string) deviceStart {
	e.t.Helper()
	r := e.post(oauth.PathDeviceAuthorization, &c, url.Values{"scope": {scope}})
	if r.status != http.StatusOK {
		e.t.Fatalf("device authorization: %d %s", r.status, r.body)
	}
	return deviceStart{deviceCode: r.str("device_code"), userCode: r.str("user_code")}
}

// pollDevice is one poll of the token endpoint with a device code.
func (e *env) pollDevice(c testClient, deviceCode string) reply {
	e.t.Helper()
	return e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {deviceCode}})
}

// deviceRecord reads a device code's record from the store.
func (e *env) deviceRecord(deviceCode string) store.DeviceCode {
	e.t.Helper()
	h := credential.Hash(deviceCode)
	d, err := e.st.GetDeviceCode(e.ctx, h[:])
	if err != nil {
		e.t.Fatalf("get device code: %v", err)
	}
	return d
}

// deviceBrowser is a browser signed in at the device page.
func deviceBrowser(e *env, tenant, login, pw string) *browser {
	e.t.Helper()
	b := newBrowser(e.t, e.ts.URL)
	p := b.signIn(b.get(e.ts.URL+oauth.PathDevice), tenant, login, pw)
	if p.status != http.StatusOK || p.url.Path != oauth.PathDevice {
		e.t.Fatalf("after sign-in: %s %d:\n%s", p.url, p.status, p.body)
	}
	return b
}

// submitCode types code into the device page's form and posts it.
func (b *browser) submitCode(code string) page {
	b.t.Helper()
	action, f := b.get(b.Issuer + oauth.PathDevice).form(b.t)
	f.Set("user_code", code)
	return b.post(b.Issuer+action, f)
}

func assertDeviceError(t *testing.T, r reply, code string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.str("error") != code {
		t.Fatalf("got %d %s, want 400 %s", r.status, r.body, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
}

var userCodeRe = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// realTimeClock makes the server's clock advance with real time from the
// test clock's start, for the runs where golang.org/x/oauth2 paces the
// polls with a real ticker.
func realTimeClock(c *Config) {
	frozen, start := c.Now, time.Now()
	c.Now = func() time.Time { return frozen().Add(time.Since(start)) }
}

// TestDevice_FullFlowWithXOAuth2 runs RFC 8628 end to end with
// golang.org/x/oauth2 on the device side, polling while a person signs in
// in a browser, enters the code from verification_uri_complete and
// approves; for a confidential and a public client, with and without
// OpenID Connect.
func TestDevice_FullFlowWithXOAuth2(t *testing.T) {
	tests := []struct {
		name        string
		authMethod  string
		scopes      []string
		wantRefresh bool
		wantIDToken bool
	}{
		{"confidential client_secret_post", oauth.AuthClientSecretPost, []string{"core.invoice.read", oauth.ScopeOfflineAccess}, true, false},
		{"public client with openid", oauth.AuthNone, []string{oauth.ScopeOpenID, oauth.ScopeProfile, "core.invoice.read"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newOIDCEnv(t, realTimeClock, func(c *Config) { c.DevicePollInterval = time.Second })
			aliceID := e.userID("acme", "alice")
			c := e.deviceClient("acme", func(c *store.Client) {
				c.AuthMethod = tt.authMethod
				if tt.authMethod == oauth.AuthNone {
					c.Secrets = nil
				}
			})
			if tt.authMethod == oauth.AuthNone {
				c.Secret = ""
			}
			ctx := oidc.ClientContext(e.ctx, e.ts.Client())
			p, err := oidc.NewProvider(ctx, e.ts.URL)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			if p.Endpoint().DeviceAuthURL != e.ts.URL+oauth.PathDeviceAuthorization {
				t.Fatalf("discovery device_authorization_endpoint = %q", p.Endpoint().DeviceAuthURL)
			}
			conf := &oauth2.Config{
				ClientID: c.ID, ClientSecret: c.Secret, Scopes: tt.scopes,
				Endpoint: oauth2.Endpoint{TokenURL: p.Endpoint().TokenURL, DeviceAuthURL: p.Endpoint().DeviceAuthURL, AuthStyle: oauth2.AuthStyleInParams},
			}
			var opts []oauth2.AuthCodeOption
			if c.Secret != "" {
				// x/oauth2 sends no credentials of its own to the device
				// endpoint; client_secret_post is what it can do.
				opts = append(opts, oauth2.SetAuthURLParam("client_secret", c.Secret))
			}
			da, err := conf.DeviceAuth(ctx, opts...)
			if err != nil {
				t.Fatalf("device authorization: %v", err)
			}
			if !userCodeRe.MatchString(da.UserCode) || !strings.HasPrefix(da.DeviceCode, "ksd_") {
				t.Fatalf("codes = %q / %q", da.UserCode, da.DeviceCode)
			}
			if da.VerificationURI != e.ts.URL+oauth.PathDevice || da.VerificationURIComplete != da.VerificationURI+"?user_code="+da.UserCode || da.Interval != 1 {
				t.Fatalf("device authorization response = %+v", da)
			}
			if left := time.Until(da.Expiry); left < 9*time.Minute || left > 10*time.Minute {
				t.Fatalf("expires in %v, want 10 min", left)
			}

			type result struct {
				tok *oauth2.Token
				err error
			}
			done := make(chan result, 1)
			go func() {
				tok, err := conf.DeviceAccessToken(ctx, da)
				done <- result{tok, err}
			}()
			// The device has been told authorization_pending at least once
			// before the person even opens the page.
			waitUntil(t, 5*time.Second, func() bool { return !e.deviceRecord(da.DeviceCode).LastPolledAt.IsZero() })

			b := newBrowser(t, e.ts.URL)
			entry := b.signIn(b.get(da.VerificationURIComplete), "acme", "alice", alicePassword)
			if entry.url.Path != oauth.PathDevice || !strings.Contains(entry.body, `value="`+da.UserCode+`"`) {
				t.Fatalf("the code page after sign-in is not prefilled: %s\n%s", entry.url, entry.body)
			}
			action, f := entry.form(t)
			confirm := b.post(e.ts.URL+action, f)
			for _, want := range []string{"Invoice CLI", "core.invoice.read", da.UserCode} {
				if !strings.Contains(confirm.body, want) {
					t.Fatalf("confirmation page lacks %q:\n%s", want, confirm.body)
				}
			}
			if done := b.decide(confirm, "approve"); done.status != http.StatusOK || !strings.Contains(done.body, "Device connected") {
				t.Fatalf("after approval: %d\n%s", done.status, done.body)
			}

			var res result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the device got no token within 10 s of approval")
			}
			if res.err != nil {
				t.Fatalf("device access token: %v", res.err)
			}
			tok := res.tok
			cl := jwtClaims(t, tok.AccessToken)
			scope := strings.Join(tt.scopes, " ")
			if cl["sub"] != aliceID || cl["tenant"] != "acme" || cl["client_id"] != c.ID || cl["scope"] != scope {
				t.Fatalf("access token claims = %v", cl)
			}
			if (tok.RefreshToken != "") != tt.wantRefresh {
				t.Fatalf("refresh token %q, want one: %v", tok.RefreshToken, tt.wantRefresh)
			}
			rawID, _ := tok.Extra("id_token").(string)
			if (rawID != "") != tt.wantIDToken {
				t.Fatalf("id_token %q, want one: %v", rawID, tt.wantIDToken)
			}
			if tt.wantIDToken {
				idt, err := p.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, rawID)
				if err != nil {
					t.Fatalf("verify ID token: %v", err)
				}
				if err := idt.VerifyAccessToken(tok.AccessToken); err != nil || idt.Subject != aliceID {
					t.Fatalf("ID token sub %q, at_hash err %v", idt.Subject, err)
				}
			}
			if rec := e.deviceRecord(da.DeviceCode); rec.Status != store.DeviceRedeemed || rec.Interval != time.Second {
				t.Fatalf("device code status = %q, interval %v; want redeemed, 1s (no slow_down for a library polling at the pace asked)", rec.Status, rec.Interval)
			}
		})
	}
}

// userID finds a user's id by login.
func (e *env) userID(tenant, login string) string {
	e.t.Helper()
	u, err := e.st.GetUserByLogin(e.ctx, tenant, login)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// waitUntil polls cond until it holds or d has passed.
func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDevice_PendingThenApprovedThenUsedOnce: the device hears
// authorization_pending until the person approves, then gets its tokens
// once; the same device code again is invalid_grant.
func TestDevice_PendingThenApprovedThenUsedOnce(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme")
	d := e.startDevice(c, "core.invoice.read offline_access")
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeAuthorizationPending)

	b := deviceBrowser(e, "acme", "alice", alicePassword)
	// Typed in lower case without the dash: the same code.
	confirm := b.submitCode(strings.ToLower(strings.ReplaceAll(d.userCode, "-", "")))
	e.clock.Advance(5 * time.Second)
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeAuthorizationPending)
	b.decide(confirm, "approve")
	rec := e.deviceRecord(d.deviceCode)
	if rec.Status != store.DeviceApproved || rec.UserID != e.userID("acme", "alice") || rec.SessionID == "" || rec.AuthTime.IsZero() {
		t.Fatalf("approved record = %+v", rec)
	}

	e.clock.Advance(5 * time.Second)
	r := e.pollDevice(c, d.deviceCode)
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("scope") != "core.invoice.read offline_access" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	// The refresh token works like one from the code flow.
	rr := e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantRefreshToken}, "refresh_token": {r.str("refresh_token")}})
	if rr.status != http.StatusOK || rr.str("refresh_token") == r.str("refresh_token") {
		t.Fatalf("refresh: %d %s", rr.status, rr.body)
	}
	e.clock.Advance(5 * time.Second)
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeInvalidGrant)
}

// TestDevice_SlowDown: a poll before the interval is over is slow_down,
// and each raises the interval by 5 s (RFC 8628 §3.5); a poll that waits
// the raised interval is answered normally.
func TestDevice_SlowDown(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme")
	d := e.startDevice(c, "core.invoice.read")
	steps := []struct {
		wait         time.Duration
		want         string
		wantInterval time.Duration
	}{
		{0, oauth.CodeAuthorizationPending, 5 * time.Second},
		{0, oauth.CodeSlowDown, 10 * time.Second},
		{5 * time.Second, oauth.CodeSlowDown, 15 * time.Second},
		{15 * time.Second, oauth.CodeAuthorizationPending, 15 * time.Second},
		{14 * time.Second, oauth.CodeAuthorizationPending, 15 * time.Second}, // within the jitter allowance
		{time.Second, oauth.CodeSlowDown, 20 * time.Second},
	}
	for i, s := range steps {
		e.clock.Advance(s.wait)
		r := e.pollDevice(c, d.deviceCode)
		if r.str("error") != s.want {
			t.Fatalf("poll %d after %v: %s, want %s", i, s.wait, r.body, s.want)
		}
		assertDeviceError(t, r, s.want)
		if got := e.deviceRecord(d.deviceCode).Interval; got != s.wantInterval {
			t.Fatalf("poll %d: interval %v, want %v", i, got, s.wantInterval)
		}
	}
}

// TestDevice_Expired: after expires_in the device hears expired_token and
// the page no longer accepts the code.
func TestDevice_Expired(t *testing.T) {
	e := newOIDCEnv(t, func(c *Config) { c.DeviceCodeTTL = time.Minute })
	c := e.deviceClient("acme")
	r := e.post(oauth.PathDeviceAuthorization, &c, url.Values{"scope": {"core.invoice.read"}})
	if r.json["expires_in"] != float64(60) || r.json["interval"] != float64(5) {
		t.Fatalf("device authorization: %s", r.body)
	}
	d := deviceStart{deviceCode: r.str("device_code"), userCode: r.str("user_code")}
	b := deviceBrowser(e, "acme", "alice", alicePassword)
	confirm := b.submitCode(d.userCode)
	e.clock.Advance(time.Minute)
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeExpiredToken)
	if p := b.decide(confirm, "approve"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "wrong or has expired") {
		t.Fatalf("approving an expired code: %d\n%s", p.status, p.body)
	}
	if p := b.submitCode(d.userCode); p.status != http.StatusBadRequest || !strings.Contains(p.body, "wrong or has expired") {
		t.Fatalf("entering an expired code: %d\n%s", p.status, p.body)
	}
	if got := e.deviceRecord(d.deviceCode).Status; got != store.DevicePending {
		t.Fatalf("status = %q, want pending (never approved)", got)
	}
}

// TestDevice_Denied: the person's denial reaches the device as
// access_denied, and the code cannot be approved afterwards.
func TestDevice_Denied(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme")
	d := e.startDevice(c, "core.invoice.read")
	b := deviceBrowser(e, "acme", "alice", alicePassword)
	confirm := b.submitCode(d.userCode)
	if p := b.decide(confirm, "deny"); p.status != http.StatusOK || !strings.Contains(p.body, "Request denied") {
		t.Fatalf("deny: %d\n%s", p.status, p.body)
	}
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeAccessDenied)
	if p := b.decide(confirm, "approve"); p.status != http.StatusBadRequest {
		t.Fatalf("approve after deny: %d\n%s", p.status, p.body)
	}
	e.clock.Advance(5 * time.Second)
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeAccessDenied)
}

// TestDevice_WrongUserCode_RefusedAndCounted: a wrong code is refused
// with a message that says so, and counts against the address: once the
// budget is spent even the right code is refused (429) until it refills.
// Malformed input is a typo, not a guess, and costs nothing.
func TestDevice_WrongUserCode_RefusedAndCounted(t *testing.T) {
	e := newOIDCEnv(t, func(c *Config) { c.FailureBurst = 3 })
	c := e.deviceClient("acme")
	d := e.startDevice(c, "core.invoice.read")
	b := deviceBrowser(e, "acme", "alice", alicePassword)
	wrong := "BBBB-BBBB"
	if wrong == d.userCode {
		wrong = "CCCC-CCCC"
	}
	attempts := []struct {
		code       string
		wantStatus int
		wantText   string
	}{
		{"ABCD-EFGH", http.StatusBadRequest, "eight letters"}, // vowels are not in the alphabet
		{"BCD", http.StatusBadRequest, "eight letters"},
		{strings.Repeat("B", 40), http.StatusBadRequest, "eight letters"},
		{wrong, http.StatusBadRequest, "wrong or has expired"},
		{wrong, http.StatusBadRequest, "wrong or has expired"},
		{wrong, http.StatusBadRequest, "wrong or has expired"},
		{d.userCode, http.StatusTooManyRequests, "Too many wrong codes"},
	}
	for i, a := range attempts {
		p := b.submitCode(a.code)
		if p.status != a.wantStatus || !strings.Contains(p.body, a.wantText) {
			t.Fatalf("attempt %d (%q): %d, want %d with %q:\n%s", i, a.code, p.status, a.wantStatus, a.wantText, p.body)
		}
	}
	if b.submitCode(d.userCode).header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// The budget refills with time; then the right code works.
	e.clock.Advance(time.Minute)
	if p := b.submitCode(d.userCode); p.status != http.StatusOK || !strings.Contains(p.body, `value="approve"`) {
		t.Fatalf("right code after the wait: %d\n%s", p.status, p.body)
	}
}

// TestDevice_CSRF: the code form and the decision are refused (403)
// without the CSRF token, and the code stays pending.
func TestDevice_CSRF(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme")
	d := e.startDevice(c, "core.invoice.read")
	b := deviceBrowser(e, "acme", "alice", alicePassword)
	tests := []struct {
		name string
		form url.Values
	}{
		{"code form without token", url.Values{"user_code": {d.userCode}}},
		{"decision without token", url.Values{"user_code": {d.userCode}, "decision": {"approve"}}},
		{"decision with a forged token", url.Values{"user_code": {d.userCode}, "decision": {"approve"}, "csrf_token": {"forged"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post(e.ts.URL+oauth.PathDevice, tt.form)
			if p.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403:\n%s", p.status, p.body)
			}
			if got := e.deviceRecord(d.deviceCode).Status; got != store.DevicePending {
				t.Fatalf("status = %q, want pending", got)
			}
		})
	}
}

// TestDevice_PageNeedsSession: without a session the page sends the
// person to sign in and back to the page with the code.
func TestDevice_PageNeedsSession(t *testing.T) {
	e := newOIDCEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathDevice+"?user_code=BCDF-GHJK", nil)
	resp, err := e.ts.Client().Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Path != oauth.PathLogin || loc.Query().Get("return") != oauth.PathDevice+"?user_code=BCDF-GHJK" || loc.Query().Has("tenant") {
		t.Fatalf("got %d to %s", resp.StatusCode, loc)
	}
}

// TestDevice_TenantOfTheClient: a person of another tenant cannot approve
// a tenant client's code (the page offers to sign in to the right one);
// a platform client's code may be approved by anyone, and the token is
// for the person's tenant.
func TestDevice_TenantOfTheClient(t *testing.T) {
	e := newOIDCEnv(t)
	e.tenant("globex", store.StatusActive)
	e.tenant(store.PlatformTenant, store.StatusActive)
	e.user("globex", "bob", alicePassword, nil)
	acme := e.deviceClient("acme")
	platform := e.deviceClient(store.PlatformTenant)
	b := deviceBrowser(e, "globex", "bob", alicePassword)

	d := e.startDevice(acme, "core.invoice.read")
	p := b.submitCode(d.userCode)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "tenant=acme") {
		t.Fatalf("other tenant's code: %d\n%s", p.status, p.body)
	}
	if got := e.deviceRecord(d.deviceCode).Status; got != store.DevicePending {
		t.Fatalf("status = %q, want pending", got)
	}

	d = e.startDevice(platform, "core.invoice.read")
	b.decide(b.submitCode(d.userCode), "approve")
	r := e.pollDevice(platform, d.deviceCode)
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	if cl := jwtClaims(t, r.str("access_token")); cl["tenant"] != "globex" || cl["sub"] != e.userID("globex", "bob") {
		t.Fatalf("claims = %v", cl)
	}
}

// TestDevice_ScopeEntitlement: a scope the person does not hold is left
// out (RFC 6749 §3.3); when none is left, the page denies the device.
func TestDevice_ScopeEntitlement(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme", func(c *store.Client) { c.Scopes = append(c.Scopes, oauth.ScopeTenantAdmin) })
	b := deviceBrowser(e, "acme", "alice", alicePassword)

	d := e.startDevice(c, "core.invoice.read "+oauth.ScopeTenantAdmin)
	confirm := b.submitCode(d.userCode)
	if strings.Contains(confirm.body, oauth.ScopeTenantAdmin) {
		t.Fatalf("the page offers a scope alice does not hold:\n%s", confirm.body)
	}
	b.decide(confirm, "approve")
	if r := e.pollDevice(c, d.deviceCode); r.status != http.StatusOK || r.str("scope") != "core.invoice.read" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}

	d = e.startDevice(c, oauth.ScopeTenantAdmin)
	if p := b.submitCode(d.userCode); p.status != http.StatusOK || !strings.Contains(p.body, "none of the rights") {
		t.Fatalf("nothing to grant: %d\n%s", p.status, p.body)
	}
	assertDeviceError(t, e.pollDevice(c, d.deviceCode), oauth.CodeAccessDenied)
}

// TestDevice_AuthorizationRefusals: the device authorization endpoint
// answers bad requests with RFC 6749 §5.2 errors.
func TestDevice_AuthorizationRefusals(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme")
	noRefresh := e.deviceClient("acme", func(c *store.Client) { c.GrantTypes = []string{oauth.GrantDeviceCode} })
	cc := e.client("acme", []string{"core.invoice.read"})
	wrongSecret := c
	wrongSecret.Secret = credential.New(credential.PrefixClientSecret)
	tests := []struct {
		name       string
		client     testClient
		scope      string
		wantStatus int
		wantCode   string
	}{
		{"client without the device grant", cc, "core.invoice.read", http.StatusBadRequest, oauth.CodeUnauthorizedClient},
		{"no scope", c, "", http.StatusBadRequest, oauth.CodeInvalidScope},
		{"scope outside the client", c, "core.invoice.write", http.StatusBadRequest, oauth.CodeInvalidScope},
		{"offline_access without the refresh grant", noRefresh, "core.invoice.read offline_access", http.StatusBadRequest, oauth.CodeInvalidScope},
		{"malformed scope", c, "core.invoice.read  openid", http.StatusBadRequest, oauth.CodeInvalidScope},
		{"wrong secret", wrongSecret, "core.invoice.read", http.StatusUnauthorized, oauth.CodeInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(oauth.PathDeviceAuthorization, &tt.client, url.Values{"scope": {tt.scope}})
			if r.status != tt.wantStatus || r.str("error") != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathDeviceAuthorization, nil)
		if r := e.do(req); r.status != http.StatusMethodNotAllowed || r.str("error") != oauth.CodeInvalidRequest {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
}

// TestDevice_TokenRefusals: the device code grant refuses codes that are
// missing, unknown, another client's, or asked for wider scope.
func TestDevice_TokenRefusals(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.deviceClient("acme")
	other := e.deviceClient("acme")
	d := e.startDevice(c, "core.invoice.read")
	b := deviceBrowser(e, "acme", "alice", alicePassword)
	b.decide(b.submitCode(d.userCode), "approve")
	tests := []struct {
		name     string
		client   testClient
		form     url.Values
		wantCode string
	}{
		{"missing device_code", c, url.Values{}, oauth.CodeInvalidRequest},
		{"unknown device_code", c, url.Values{"device_code": {"ksd_" + strings.Repeat("A", 52)}}, oauth.CodeInvalidGrant},
		{"not a device_code", c, url.Values{"device_code": {"kss_nope"}}, oauth.CodeInvalidGrant},
		{"another client's code", other, url.Values{"device_code": {d.deviceCode}}, oauth.CodeInvalidGrant},
		{"wider scope than approved", c, url.Values{"device_code": {d.deviceCode}, "scope": {"core.invoice.read openid"}}, oauth.CodeInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", oauth.GrantDeviceCode)
			assertDeviceError(t, e.post(oauth.PathToken, &tt.client, tt.form), tt.wantCode)
		})
	}
	// None of the refusals used the code up.
	e.clock.Advance(5 * time.Second)
	if r := e.pollDevice(c, d.deviceCode); r.status != http.StatusOK {
		t.Fatalf("token after refusals: %d %s", r.status, r.body)
	}
}

// TestDevice_Discovery: the metadata lists the endpoint and the grant.
func TestDevice_Discovery(t *testing.T) {
	e := newOIDCEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathASMetadata, nil)
	r := e.do(req)
	if r.str("device_authorization_endpoint") != e.ts.URL+oauth.PathDeviceAuthorization {
		t.Fatalf("device_authorization_endpoint = %v", r.json["device_authorization_endpoint"])
	}
	if !slices.Contains(toStrings(r.json["grant_types_supported"]), oauth.GrantDeviceCode) {
		t.Fatalf("grant_types_supported = %v", r.json["grant_types_supported"])
	}
}

func TestUserCode_FormatAndNormalise(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := newUserCode()
		if err != nil {
			t.Fatal(err)
		}
		if !userCodeRe.MatchString(c) {
			t.Fatalf("user code %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 199 {
		t.Fatalf("only %d distinct codes of 200", len(seen))
	}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf ghjk", "BCDFGHJK", true},
		{" b-c-d-f-g-h-j-k ", "BCDFGHJK", true},
		{"BCDFGHJ", "", false},
		{"BCDFGHJKL", "", false},
		{"BCDF-GHJA", "", false},
		{"BCDF-GHJ1", "", false},
		{"BCDF_GHJK", "", false},
		{"ВCDF-GHJK", "", false}, // Cyrillic В
		{strings.Repeat(" ", 30) + "BCDFGHJK", "", false},
	}
	for _, tt := range tests {
		got, ok := normaliseUserCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normaliseUserCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNormaliseUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDF-GHJA", "ВCDF-GHJK", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, ok := normaliseUserCode(s)
		if !ok {
			return
		}
		if len(norm) != userCodeLen || !userCodeRe.MatchString(formatUserCode(norm)) {
			t.Fatalf("normaliseUserCode(%q) = %q", s, norm)
		}
		if again, ok := normaliseUserCode(formatUserCode(norm)); !ok || again != norm {
			t.Fatalf("not stable: %q → %q → %q", s, norm, again)
		}
	})
}
