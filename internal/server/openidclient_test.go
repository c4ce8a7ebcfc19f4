package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// openIDClientVersion pins the npm package openid-client (panva), an
// independent OpenID Connect relying party built on oauth4webapi; v6 runs
// on Node 20.
const openIDClientVersion = "6.9.0"

const (
	rpRedirect = "https://app.example/callback"
	rpPassword = "violet-otter-lantern-57"
	rpWebScope = "openid profile email offline_access core.invoice.read"
	rpDevScope = "openid profile core.invoice.read"
)

// rpClient is a client of the script's configuration (KS_RP_CONFIG).
type rpClient struct {
	ID          string          `json:"id"`
	Secret      string          `json:"secret,omitempty"`
	Scope       string          `json:"scope"`
	RedirectURI string          `json:"redirect_uri,omitempty"`
	JWK         json.RawMessage `json:"jwk,omitempty"`
}

// rpConfig is the script's configuration: the issuer and one client per
// kind of flow, with what the script needs to act as it.
type rpConfig struct {
	Issuer  string   `json:"issuer"`
	Web     rpClient `json:"web"`
	Device  rpClient `json:"device"`
	Service rpClient `json:"service"`
	Signer  rpClient `json:"signer"`
}

// TestOpenIDClient_AllFlows runs openid-client against a real keyshift
// (loopback listener, SQLite store) set up through the admin API: discovery,
// authorization code with PKCE, state, nonce and RFC 9207 iss, refresh with
// rotation, userinfo, revocation of the refresh token, device flow,
// client credentials, introspection before and after revocation, and
// private_key_jwt with its jti replay protection. The browser part (sign-in,
// consent, device approval) is done here in Go.
func TestOpenIDClient_AllFlows(t *testing.T) {
	modules := agenttest.NPMPackage(t, "openid-client", openIDClientVersion)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("npm is installed but node is not: %v", err)
	}
	base, op := startTestServer(t)
	cfg, userID := setUpRelyingParties(t, base, op)
	r := &rpRun{t: t, rp: startRP(t, node, modules, cfg), base: base, cfg: cfg, userID: userID}

	// In the script's order; each step reads the events the script prints
	// for it and asserts them.
	r.discovery()
	r.authorizationCode()
	r.refreshUserinfoRevoke()
	r.deviceFlow()
	r.clientCredentials()
	r.privateKeyJWT()
	r.rp.next("done", nil)
	r.rp.wait()
}

// rpRun is one run of the script against one keyshift.
type rpRun struct {
	t      *testing.T
	rp     *rpProcess
	base   string
	cfg    rpConfig
	userID string
}

// idClaims are the ID token claims the test checks.
type idClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Nonce    string          `json:"nonce"`
	AuthTime int64           `json:"auth_time"`
	AtHash   string          `json:"at_hash"`
	Tenant   string          `json:"tenant"`
	Email    string          `json:"email"`
	Name     string          `json:"name"`
}

// discovery: openid-client found keyshift's metadata at the issuer.
func (r *rpRun) discovery() {
	t := r.t
	t.Helper()
	var disc struct {
		Issuer                        string   `json:"issuer"`
		AuthorizationEndpoint         string   `json:"authorization_endpoint"`
		TokenEndpoint                 string   `json:"token_endpoint"`
		UserinfoEndpoint              string   `json:"userinfo_endpoint"`
		JWKSURI                       string   `json:"jwks_uri"`
		DeviceAuthorizationEndpoint   string   `json:"device_authorization_endpoint"`
		IntrospectionEndpoint         string   `json:"introspection_endpoint"`
		RevocationEndpoint            string   `json:"revocation_endpoint"`
		EndSessionEndpoint            string   `json:"end_session_endpoint"`
		CodeChallengeMethods          []string `json:"code_challenge_methods_supported"`
		AuthorizationResponseIssParam bool     `json:"authorization_response_iss_parameter_supported"`
	}
	r.rp.next("discovery", &disc)
	for _, c := range []struct{ name, got, want string }{
		{"issuer", disc.Issuer, r.base},
		{"authorization_endpoint", disc.AuthorizationEndpoint, r.base + "/oauth2/authorize"},
		{"token_endpoint", disc.TokenEndpoint, r.base + "/oauth2/token"},
		{"userinfo_endpoint", disc.UserinfoEndpoint, r.base + "/oauth2/userinfo"},
		{"jwks_uri", disc.JWKSURI, r.base + "/.well-known/jwks.json"},
		{"device_authorization_endpoint", disc.DeviceAuthorizationEndpoint, r.base + "/oauth2/device_authorization"},
		{"introspection_endpoint", disc.IntrospectionEndpoint, r.base + "/oauth2/introspect"},
		{"revocation_endpoint", disc.RevocationEndpoint, r.base + "/oauth2/revoke"},
		{"end_session_endpoint", disc.EndSessionEndpoint, r.base + "/oauth2/logout"},
	} {
		if c.got != c.want {
			t.Errorf("discovery %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !slices.Contains(disc.CodeChallengeMethods, "S256") || !disc.AuthorizationResponseIssParam {
		t.Errorf("discovery: code_challenge_methods %v, iss parameter %v; want S256 and true", disc.CodeChallengeMethods, disc.AuthorizationResponseIssParam)
	}
}

// authorizationCode: the library builds the authorization URL, a person
// signs in and consents here, the library refuses altered callbacks and
// redeems the real one, checking iss, state, nonce and the ID token.
func (r *rpRun) authorizationCode() {
	t := r.t
	t.Helper()
	var auth struct{ URL string }
	r.rp.next("authorize", &auth)
	au, err := url.Parse(auth.URL)
	if err != nil || !strings.HasPrefix(auth.URL, r.base+"/oauth2/authorize?") {
		t.Fatalf("authorization URL %q (%v) is not keyshift's endpoint", auth.URL, err)
	}
	if q := au.Query(); q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization URL %q lacks PKCE S256, state or nonce", auth.URL)
	}
	b := newRPBrowser(t, r.base)
	consent := rpSignIn(t, b, b.Get(auth.URL), "", "alice", rpPassword)
	b.Approve(consent)
	cb := b.LeftTo()
	if cb.Query().Get("iss") != r.base || cb.Query().Get("code") == "" {
		t.Fatalf("callback %s lacks the code or iss=%s", cb, r.base)
	}
	r.tamperedCallbacks(cb)

	var code struct {
		TokenType       string   `json:"token_type"`
		ExpiresIn       int      `json:"expires_in"`
		Scope           string   `json:"scope"`
		HasRefreshToken bool     `json:"has_refresh_token"`
		Claims          idClaims `json:"claims"`
	}
	r.rp.next("authorization_code", &code)
	aud := string(code.Claims.Aud)
	if c := code.Claims; c.Iss != r.base || c.Sub != r.userID || (aud != `"`+r.cfg.Web.ID+`"` && aud != `["`+r.cfg.Web.ID+`"]`) ||
		c.Nonce != au.Query().Get("nonce") || c.AuthTime == 0 || c.AtHash == "" ||
		c.Tenant != "acme" || c.Email != "alice@acme.example" || c.Name != "Alice Example" {
		t.Errorf("ID token claims = %+v; want iss %s, sub %s, aud %s, the request's nonce, auth_time, at_hash, tenant acme, alice's email and name",
			c, r.base, r.userID, r.cfg.Web.ID)
	}
	if !strings.EqualFold(code.TokenType, "bearer") || code.ExpiresIn <= 0 || !code.HasRefreshToken || code.Scope != rpWebScope {
		t.Errorf("token response: type %q, expires_in %d, refresh token %v, scope %q; want a bearer token, a refresh token, scope %q",
			code.TokenType, code.ExpiresIn, code.HasRefreshToken, code.Scope, rpWebScope)
	}
}

// tamperedCallbacks hands the script the callback and altered copies of
// it, which openid-client must refuse on its own (RFC 9207 iss, state)
// before it sends the code anywhere.
func (r *rpRun) tamperedCallbacks(cb *url.URL) {
	t := r.t
	t.Helper()
	type tampered struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	alter := func(name string, change func(url.Values)) tampered {
		u := *cb
		q := u.Query()
		change(q)
		u.RawQuery = q.Encode()
		return tampered{name, u.String()}
	}
	tamperings := []struct {
		tampered
		wantCause string // the parameter openid-client names
	}{
		{alter("iss of another server", func(q url.Values) { q.Set("iss", "https://evil.example") }), `"iss"`},
		{alter("iss missing", func(q url.Values) { q.Del("iss") }), `"iss"`},
		{alter("state of another request", func(q url.Values) { q.Set("state", "forged-state") }), `"state"`},
	}
	var sent []tampered
	for _, tc := range tamperings {
		sent = append(sent, tc.tampered)
	}
	// The real callback goes along; the script redeems it after these.
	r.rp.send(map[string]any{"callback": cb.String(), "tampered": sent})
	var refused []rpError
	r.rp.next("tampered_callbacks", &refused)
	if len(refused) != len(tamperings) {
		t.Fatalf("tampered callbacks: %d answers, want %d", len(refused), len(tamperings))
	}
	for i, tc := range tamperings {
		// Refused locally: no request reached keyshift, so no OAuth error.
		if got := refused[i]; got.Status != 0 || got.Error != "" || !strings.Contains(got.Cause, tc.wantCause) {
			t.Errorf("openid-client on a callback with %s: %+v; want a local refusal naming %s", tc.Name, got, tc.wantCause)
		}
	}
}

// refreshUserinfoRevoke: the refresh token rotates, userinfo names the
// ID token's subject, a revoked refresh token is refused.
func (r *rpRun) refreshUserinfoRevoke() {
	t := r.t
	t.Helper()
	var refresh struct {
		Rotated        bool      `json:"rotated"`
		NewAccessToken bool      `json:"new_access_token"`
		Claims         *idClaims `json:"claims"`
	}
	r.rp.next("refresh", &refresh)
	if !refresh.Rotated || !refresh.NewAccessToken {
		t.Errorf("refresh: rotated %v, new access token %v; want both", refresh.Rotated, refresh.NewAccessToken)
	}
	if refresh.Claims == nil || refresh.Claims.Sub != r.userID {
		t.Errorf("refreshed ID token claims = %+v, want sub %q", refresh.Claims, r.userID)
	}

	var ui struct{ Sub, Email, Name string }
	r.rp.next("userinfo", &ui)
	if ui.Sub != r.userID || ui.Email != "alice@acme.example" || ui.Name != "Alice Example" {
		t.Errorf("userinfo = %+v, want alice (%s)", ui, r.userID)
	}

	var rr struct{ After rpError }
	r.rp.next("refresh_revocation", &rr)
	if rr.After.Error != "invalid_grant" || rr.After.Status != http.StatusBadRequest {
		t.Errorf("refresh after revoking the refresh token: %+v, want invalid_grant", rr.After)
	}
}

// deviceFlow: the library polls while a person approves the code.
func (r *rpRun) deviceFlow() {
	t := r.t
	t.Helper()
	var dev struct {
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
	}
	r.rp.next("device", &dev)
	if dev.VerificationURI != r.base+"/oauth2/device" || dev.VerificationURIComplete != dev.VerificationURI+"?user_code="+dev.UserCode ||
		dev.ExpiresIn <= 0 {
		t.Fatalf("device authorization response = %+v", dev)
	}
	approveDevice(t, r.base, dev.VerificationURIComplete, dev.UserCode)
	var dt struct {
		TokenType       string    `json:"token_type"`
		Scope           string    `json:"scope"`
		HasRefreshToken bool      `json:"has_refresh_token"`
		Claims          *idClaims `json:"claims"`
	}
	r.rp.next("device_token", &dt)
	if !strings.EqualFold(dt.TokenType, "bearer") || dt.Scope != rpDevScope || dt.Claims == nil || dt.Claims.Sub != r.userID {
		t.Errorf("device token = %+v; want a bearer token with scope %q and an ID token for %s", dt, rpDevScope, r.userID)
	}
}

// clientCredentials: a token for the service client, active when
// introspected, inactive once revoked.
func (r *rpRun) clientCredentials() {
	t := r.t
	t.Helper()
	var cc struct {
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		Scope     string `json:"scope"`
	}
	r.rp.next("client_credentials", &cc)
	if !strings.EqualFold(cc.TokenType, "bearer") || cc.ExpiresIn != 3600 || cc.Scope != "core.invoice.read" {
		t.Errorf("client credentials token = %+v; want bearer, 3600 s, core.invoice.read", cc)
	}

	var in struct{ Before, After introspection }
	r.rp.next("introspection", &in)
	if b := in.Before; !b.Active || b.ClientID != r.cfg.Service.ID || b.Scope != "core.invoice.read" || b.Tenant != "acme" || b.Iss != r.base {
		t.Errorf("introspection before revocation = %+v; want active, client %s, core.invoice.read, tenant acme", b, r.cfg.Service.ID)
	}
	if in.After.Active {
		t.Errorf("introspection after revocation = %+v, want inactive", in.After)
	}
}

// privateKeyJWT: two tokens in a row with openid-client's assertions (a
// fresh jti each), one refused when an assertion's jti is used again.
func (r *rpRun) privateKeyJWT() {
	t := r.t
	t.Helper()
	var pkj struct {
		FirstScope     string        `json:"first_scope"`
		DistinctTokens bool          `json:"distinct_tokens"`
		Introspection  introspection `json:"introspection"`
		Replay         rpError       `json:"replay"`
	}
	r.rp.next("private_key_jwt", &pkj)
	if pkj.FirstScope != "core.invoice.read" || !pkj.DistinctTokens {
		t.Errorf("private_key_jwt tokens: scope %q, distinct %v", pkj.FirstScope, pkj.DistinctTokens)
	}
	if !pkj.Introspection.Active || pkj.Introspection.ClientID != r.cfg.Signer.ID {
		t.Errorf("the second private_key_jwt token introspects as %+v, want active for %s", pkj.Introspection, r.cfg.Signer.ID)
	}
	if got := pkj.Replay; got.Error != "invalid_client" || got.Status != http.StatusUnauthorized {
		t.Errorf("a replayed assertion jti got %+v, want 401 invalid_client", got)
	}
}

// introspection is an RFC 7662 answer as openid-client returns it.
type introspection struct {
	Active   bool   `json:"active"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Tenant   string `json:"tenant"`
	Iss      string `json:"iss"`
}

// rpError is the error openid-client raised where the script expected one:
// the OAuth error code of the server's answer, if any, and its message.
type rpError struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	Status    int    `json:"status"`
	Challenge string `json:"challenge"`
	Message   string `json:"message"`
	Cause     string `json:"cause"`
}
