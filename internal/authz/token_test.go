package authz

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// verifier checks tokens independently of keyshift's own code: go-oidc
// finds the JWKS through the discovery document and verifies signature,
// issuer and expiry.
func (e *env) verifier() *oidc.IDTokenVerifier {
	e.t.Helper()
	ctx := oidc.ClientContext(e.ctx, e.ts.Client())
	p, err := oidc.NewProvider(ctx, e.ts.URL)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return p.Verifier(&oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{"ES256", "EdDSA"}})
}

func TestToken_ThirdPartyClientGetsIndependentlyVerifiableToken(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	scopes := []string{"core.invoice.read", "core.invoice.write"}
	styles := []struct {
		name   string
		style  oauth2.AuthStyle
		method string
	}{
		{"basic", oauth2.AuthStyleInHeader, oauth.AuthClientSecretBasic},
		{"post", oauth2.AuthStyleInParams, oauth.AuthClientSecretPost},
	}
	for _, s := range styles {
		t.Run(s.name, func(t *testing.T) {
			c := e.client("acme", scopes, func(c *store.Client) { c.AuthMethod = s.method })
			cc := clientcredentials.Config{
				ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + oauth.PathToken,
				Scopes: []string{"core.invoice.read"}, AuthStyle: s.style,
			}
			ctx := context.WithValue(e.ctx, oauth2.HTTPClient, e.ts.Client())
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken != "" {
				t.Fatalf("token type %q, refresh %q", tok.TokenType, tok.RefreshToken)
			}
			if d := time.Until(tok.Expiry); d < 23*time.Hour || d > 25*time.Hour {
				t.Fatalf("expiry in %v, want about 24h", d)
			}
			idt, err := e.verifier().Verify(e.ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("independent verification: %v", err)
			}
			if idt.Issuer != e.ts.URL || idt.Subject != c.ID || len(idt.Audience) != 1 || idt.Audience[0] != e.ts.URL {
				t.Fatalf("iss %q sub %q aud %q", idt.Issuer, idt.Subject, idt.Audience)
			}
			claims := jwtClaims(t, tok.AccessToken)
			if claims["client_id"] != c.ID || claims["tenant"] != "acme" || claims["scope"] != "core.invoice.read" {
				t.Fatalf("claims %v", claims)
			}
			if jti, _ := claims["jti"].(string); len(jti) != 22 {
				t.Fatalf("jti %q is not 128 bits base64url", jti)
			}
			if h := jwtHeader(t, tok.AccessToken); h["typ"] != "at+jwt" || h["kid"] == "" {
				t.Fatalf("header %v", h)
			}
		})
	}
}

func TestToken_SuccessResponseShape(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read", "a.b.write"})
	r := e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}})
	if r.status != http.StatusOK {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("cache headers %v", r.header)
	}
	if r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(86400) || r.str("scope") != "a.b.read a.b.write" {
		t.Fatalf("body %s", r.body)
	}
	if _, ok := r.json["refresh_token"]; ok {
		t.Fatal("client_credentials must not return a refresh token")
	}
	// A client's own token lifetime wins over the default.
	short := e.client("acme", []string{"a.b.read"}, func(c *store.Client) { c.AccessTokenTTL = time.Hour })
	r = e.post(oauth.PathToken, &short, url.Values{"grant_type": {oauth.GrantClientCredentials}})
	if r.json["expires_in"] != float64(3600) {
		t.Fatalf("expires_in %v, want 3600", r.json["expires_in"])
	}
	ti, err := e.srv.Authenticate(e.ctx, r.str("access_token"))
	if err != nil || ti.ExpiresAt.Sub(ti.IssuedAt) != time.Hour || ti.ClientID != short.ID || ti.Tenant != "acme" {
		t.Fatalf("authenticate: %+v %v", ti, err)
	}
	if got := counter(t, e, "keyshift_token_requests_total", oauth.GrantClientCredentials, "issued"); got != 2 {
		t.Fatalf("issued counter %v, want 2", got)
	}
}

func TestToken_RotationOldTokenStillVerifiesNewTokenHasNewKid(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	v := e.verifier()
	old := e.token(c, "")
	oldKid := jwtHeader(t, old)["kid"]
	if err := e.keys.Rotate(e.ctx, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	fresh := e.token(c, "")
	if newKid := jwtHeader(t, fresh)["kid"]; newKid == oldKid {
		t.Fatalf("kid %v unchanged after rotation", newKid)
	}
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if _, err := v.Verify(e.ctx, tok); err != nil {
			t.Fatalf("%s token, independent verification: %v", name, err)
		}
		if _, err := e.srv.Authenticate(e.ctx, tok); err != nil {
			t.Fatalf("%s token, Authenticate: %v", name, err)
		}
	}
}

func TestToken_DisabledClientRefusedWithinASecond(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")
	e.updateClient(c.ID, func(c *store.Client) { c.Status = store.StatusDisabled })
	e.waitFor(func() bool {
		return e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}}).status == http.StatusUnauthorized
	})
	if _, err := e.srv.Authenticate(e.ctx, tok); err == nil {
		t.Fatal("token of a disabled client still authenticates")
	}
}

func TestToken_DisabledTenantRefusesItsClients(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")
	err := e.st.Tx(e.ctx, func(tx store.Tx) error {
		return tx.UpdateTenant(e.ctx, "acme", func(t store.Tenant) (store.Tenant, error) {
			t.Status = store.StatusDisabled
			return t, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(func() bool {
		return e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}}).status == http.StatusUnauthorized
	})
	if _, err := e.srv.Authenticate(e.ctx, tok); err == nil {
		t.Fatal("token of a disabled tenant still authenticates")
	}
}

func TestToken_SecretRotationOverlapThenPreviousExpires(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	prev := e.client("acme", []string{"a.b.read"})
	// Rotate: a new current secret, the previous one kept for an hour.
	cur := testClient{ID: prev.ID, Tenant: "acme", Secret: credential.New(credential.PrefixClientSecret)}
	h := credential.Hash(cur.Secret)
	until := e.clock.Now().Add(time.Hour)
	e.updateClient(prev.ID, func(c *store.Client) {
		old := c.Secrets[0]
		old.ExpiresAt = &until
		c.Secrets = []store.ClientSecret{{ID: "sec_new", Hash: h[:], CreatedAt: e.clock.Now()}, old}
	})
	e.waitFor(func() bool { cl, _ := e.srv.clients.lookup(prev.ID); return len(cl.Secrets) == 2 })
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	if r := e.post(oauth.PathToken, &cur, grant); r.status != http.StatusOK {
		t.Fatalf("new secret: %d %s", r.status, r.body)
	}
	if r := e.post(oauth.PathToken, &prev, grant); r.status != http.StatusOK {
		t.Fatalf("previous secret during overlap: %d %s", r.status, r.body)
	}
	e.clock.Advance(time.Hour)
	if r := e.post(oauth.PathToken, &prev, grant); r.status != http.StatusUnauthorized || r.str("error") != oauth.CodeInvalidClient {
		t.Fatalf("previous secret after expiry: %d %s", r.status, r.body)
	}
	if r := e.post(oauth.PathToken, &cur, grant); r.status != http.StatusOK {
		t.Fatalf("new secret after previous expired: %d %s", r.status, r.body)
	}
}

func TestToken_TenantClientCannotGetAdminScope(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	e.tenant(store.PlatformTenant, store.StatusActive)
	c := e.client("acme", []string{"a.b.read", oauth.ScopeAdmin})
	r := e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}})
	if r.status != http.StatusOK || r.str("scope") != "a.b.read" {
		t.Fatalf("default scopes: %d %s", r.status, r.body)
	}
	op := e.client(store.PlatformTenant, []string{oauth.ScopeAdmin})
	ti, err := e.srv.Authenticate(e.ctx, e.token(op, oauth.ScopeAdmin))
	if err != nil || len(ti.Scopes) != 1 || ti.Scopes[0] != oauth.ScopeAdmin {
		t.Fatalf("operator token: %+v %v", ti, err)
	}
}

func TestAuthenticate_RefusesBadTokens(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read", "a.b.write"})
	tok := e.token(c, "")
	other := newEnv(t) // another issuer with other keys
	other.tenant("acme", store.StatusActive)
	foreign := other.token(other.client("acme", []string{"a.b.read"}), "")
	tests := map[string]string{
		"empty":          "",
		"garbage":        "not.a.jwt",
		"tampered":       tok[:len(tok)-4] + "AAAA",
		"other issuer":   foreign,
		"oversized":      strings.Repeat("a", maxTokenLen+1),
		"payload swap":   swapPayload(tok, foreign),
		"unsigned alg":   "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + strings.Split(tok, ".")[1] + ".",
		"truncated":      tok[:len(tok)/2],
		"two dots only":  "..",
		"trailing space": tok + " ",
	}
	for name, bad := range tests {
		if _, err := e.srv.Authenticate(e.ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Expiry with 30 s leeway.
	e.clock.Advance(24*time.Hour + 29*time.Second)
	if _, err := e.srv.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.srv.Authenticate(e.ctx, tok); err == nil {
		t.Fatal("expired token accepted")
	}
}

func TestAuthenticate_ScopeRemovedFromClientStopsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read", "a.b.write"})
	tok := e.token(c, "")
	e.updateClient(c.ID, func(c *store.Client) { c.Scopes = []string{"a.b.read"} })
	e.waitFor(func() bool {
		ti, err := e.srv.Authenticate(e.ctx, tok)
		return err == nil && len(ti.Scopes) == 1 && ti.Scopes[0] == "a.b.read"
	})
}

func swapPayload(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return pa[0] + "." + pb[1] + "." + pa[2]
}

// counter reads a counter of the test registry by its label values.
func counter(t testing.TB, e *env, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsMatch(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelsMatch(m *dto.Metric, want []string) bool {
	got := m.GetLabel()
	if len(got) != len(want) {
		return false
	}
	// Labels are gathered sorted by name; callers pass values in that order.
	for i, lp := range got {
		if lp.GetValue() != want[i] {
			return false
		}
	}
	return true
}

func TestToken_IssuedAndVerifiedWithTheStoreClosed(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	// The hot path reads only memory: with the database gone, tokens are
	// still issued and verified.
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	tok := e.token(c, "a.b.read")
	if _, err := e.srv.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	// Revocation needs the store: a clean 5xx answer, not a hang or panic.
	r := e.post(oauth.PathRevoke, &c, url.Values{"token": {tok}})
	if r.status != http.StatusInternalServerError && r.status != http.StatusServiceUnavailable {
		t.Fatalf("revoke with the store closed: %d %s", r.status, r.body)
	}
	if r.str("error") == "" || strings.Contains(string(r.body), "sql") {
		t.Fatalf("error body %s", r.body)
	}
}
