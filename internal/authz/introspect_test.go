package authz

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestIntrospect_OwnTenantActive(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read", "a.b.write"})
	rs := e.client("acme", []string{"a.b.read"}) // a resource server of the same tenant
	tok := e.token(c, "a.b.read")
	r := e.post(oauth.PathIntrospect, &rs, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
	if r.status != http.StatusOK || r.json["active"] != true {
		t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	want := map[string]string{
		"scope": "a.b.read", "client_id": c.ID, "sub": c.ID, "aud": e.ts.URL, "iss": e.ts.URL,
		"token_type": "Bearer", "tenant": "acme",
	}
	for k, v := range want {
		if r.str(k) != v {
			t.Errorf("%s = %q, want %q", k, r.str(k), v)
		}
	}
	for _, k := range []string{"exp", "iat"} {
		if _, ok := r.json[k].(float64); !ok {
			t.Errorf("%s missing: %s", k, r.body)
		}
	}
	if r.str("jti") == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("jti or Cache-Control missing: %s %v", r.body, r.header)
	}
}

func TestIntrospect_OtherTenantInactiveUnlessOperator(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	e.tenant("globex", store.StatusActive)
	e.tenant(store.PlatformTenant, store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")
	tests := []struct {
		name   string
		caller testClient
		active bool
	}{
		{"client of another tenant", e.client("globex", []string{"a.b.read"}), false},
		{"tenant client holding the admin scope", e.client("globex", []string{oauth.ScopeAdmin}), false},
		{"platform client without admin scope", e.client(store.PlatformTenant, []string{"a.b.read"}), false},
		{"platform operator", e.client(store.PlatformTenant, []string{oauth.ScopeAdmin}), true},
		{"same tenant", e.client("acme", []string{"x.y.read"}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(oauth.PathIntrospect, &tt.caller, url.Values{"token": {tok}})
			if r.status != http.StatusOK || r.json["active"] != tt.active {
				t.Fatalf("got %d %s, want active=%v", r.status, r.body, tt.active)
			}
			if !tt.active && len(r.json) != 1 {
				t.Fatalf("inactive answer says more than active:false: %s", r.body)
			}
		})
	}
}

func TestRevoke_ThenIntrospectInactiveAndAuthenticateFails(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")
	keep := e.token(c, "")
	r := e.post(oauth.PathRevoke, &c, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
	if r.status != http.StatusOK || len(r.body) != 0 {
		t.Fatalf("revoke: %d %q", r.status, r.body)
	}
	if _, err := e.srv.Authenticate(e.ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Authenticate after revoke: %v", err)
	}
	if r := e.post(oauth.PathIntrospect, &c, url.Values{"token": {tok}}); r.json["active"] != false {
		t.Fatalf("introspect after revoke: %s", r.body)
	}
	if _, err := e.srv.Authenticate(e.ctx, keep); err != nil {
		t.Fatalf("another token of the client: %v", err)
	}
	// Revoking again is still 200.
	if r := e.post(oauth.PathRevoke, &c, url.Values{"token": {tok}}); r.status != http.StatusOK {
		t.Fatalf("second revoke: %d", r.status)
	}
	// The revocation and its audit event are in the store.
	jti := jwtClaims(t, tok)["jti"].(string)
	rv, err := e.st.GetRevocation(e.ctx, jti)
	if err != nil || rv.ClientID != c.ID || rv.Tenant != "acme" {
		t.Fatalf("stored revocation: %+v %v", rv, err)
	}
	ev, err := e.st.ListAudit(e.ctx, store.AuditFilter{Action: "token.revoke", ObjectID: jti})
	if err != nil || len(ev) != 1 || ev[0].Actor != c.ID || ev[0].ObjectType != "token" {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}

func TestRevoke_OtherInstancesRefuseViaFeedAndOnLoad(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")
	instance := func() *Server {
		s, err := New(Config{Issuer: e.ts.URL, Now: e.clock.Now, Logger: e.srv.log}, e.st, e.keys)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(e.ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	running := instance() // learns of the revocation from the change feed
	if _, err := running.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if r := e.post(oauth.PathRevoke, &c, url.Values{"token": {tok}}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d", r.status)
	}
	e.waitFor(func() bool { _, err := running.Authenticate(e.ctx, tok); return errors.Is(err, ErrInvalidToken) })
	// A restart loads it from the store.
	if _, err := instance().Authenticate(e.ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked token accepted by a fresh instance: %v", err)
	}
}

func TestRevoke_OperatorMayRevokeAnyTenantsToken(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	e.tenant(store.PlatformTenant, store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	op := e.client(store.PlatformTenant, []string{oauth.ScopeAdmin})
	tok := e.token(c, "")
	if r := e.post(oauth.PathRevoke, &op, url.Values{"token": {tok}}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if _, err := e.srv.Authenticate(e.ctx, tok); err == nil {
		t.Fatal("operator revocation had no effect")
	}
}
