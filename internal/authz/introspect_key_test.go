package authz

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// lateKeys lets a test build the key service after newEnv opened the store
// the service needs; it forwards to the real service.
type lateKeys struct{ svc *apikey.Service }

func (l *lateKeys) IntrospectKey(ctx context.Context, key, tenant string, operator bool) (KeyIntrospection, bool, error) {
	return l.svc.IntrospectKey(ctx, key, tenant, operator)
}

// keyEnv is an authorization server whose introspection knows legacy keys,
// with tenants acme (keys accepted, deprecated) and old (past its sunset).
type keyEnv struct {
	*env
	svc      *apikey.Service
	acmeKey  string // an accepted key of acme, with invoices:read
	acmeID   string
	allKey   string // an all-APIs key of acme
	oldKey   string // a key of old, refused as api_key_sunset
	operator testClient
	deprec   time.Time
	sunset   time.Time
}

func newKeyEnv(t *testing.T) *keyEnv {
	t.Helper()
	lk := &lateKeys{}
	e := newEnv(t, func(c *Config) { c.Keys = lk })
	for _, id := range []string{"acme", "old", "globex", store.PlatformTenant} {
		e.tenant(id, store.StatusActive)
	}
	now := e.clock.Now()
	ke := &keyEnv{env: e, deprec: now.Add(-24 * time.Hour).Truncate(time.Second), sunset: now.Add(30 * 24 * time.Hour).Truncate(time.Second)}
	tl := apikey.Timeline{
		DeprecatedAt: &ke.deprec, KeysOffAt: &ke.sunset, MigrationGuideURL: "https://docs.example.com/oauth",
		Extensions: []apikey.Extension{{Tenant: "old", KeysOffAt: now.Add(-time.Hour), Reason: "test"}},
	}
	raw, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Tx(e.ctx, func(tx store.Tx) error {
		for _, sc := range []store.Scope{
			{Name: "core.invoice.read", Description: "read invoices", Permissions: []string{"invoices:read"}},
			{Name: "core.invoice.write", Description: "write invoices", Permissions: []string{"invoices:write"}},
		} {
			if err := tx.PutScope(e.ctx, sc); err != nil {
				return err
			}
		}
		return tx.PutSetting(e.ctx, apikey.SettingTimeline, raw)
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	ke.acmeID, ke.acmeKey = ke.key("acme", []string{"invoices:read"})
	_, ke.allKey = ke.key("acme", nil)
	_, ke.oldKey = ke.key("old", []string{"invoices:read"})

	ctx, cancel := context.WithCancel(e.ctx)
	svc, err := apikey.NewService(e.st, apikey.ServiceConfig{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler), FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); svc.Wait() }) // before the store closes
	lk.svc, ke.svc = svc, svc
	ke.operator = e.client(store.PlatformTenant, []string{oauth.ScopeAdmin})
	return ke
}

func (ke *keyEnv) key(tenant string, perms []string) (id, secret string) {
	ke.t.Helper()
	secret = apikey.Generate()
	h := apikey.Hash(secret)
	id = credential.ID("key_", 16)
	err := ke.st.Tx(ke.ctx, func(tx store.Tx) error {
		return tx.CreateAPIKey(ke.ctx, store.APIKey{ID: id, Tenant: tenant, Hash: h[:], Name: "erp sync",
			Permissions: perms, Owner: store.OwnerTenant, Status: store.StatusActive})
	})
	if err != nil {
		ke.t.Fatalf("create key: %v", err)
	}
	return id, secret
}

func (ke *keyEnv) introspect(caller testClient, key, hint string) reply {
	ke.t.Helper()
	v := url.Values{"token": {key}}
	if hint != "" {
		v.Set("token_type_hint", hint)
	}
	r := ke.post(oauth.PathIntrospect, &caller, v)
	if r.status != http.StatusOK {
		ke.t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r
}

func TestIntrospectKey_AcceptedKeyOfOwnTenant(t *testing.T) {
	ke := newKeyEnv(t)
	rs := ke.client("acme", []string{"core.invoice.read"})
	r := ke.introspect(rs, ke.acmeKey, oauth.TokenTypeHintAPIKey)
	want := map[string]any{
		"active": true, "token_type": "api_key", "tenant": "acme", "key_id": ke.acmeID,
		"scope": "core.invoice.read", "decision": "accepted",
		"deprecation": ke.deprec.UTC().Format(time.RFC3339), "sunset": ke.sunset.UTC().Format(time.RFC3339),
		"migration_guide_url": "https://docs.example.com/oauth",
	}
	for k, v := range want {
		if r.json[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, r.json[k], v, r.body)
		}
	}
	if p, _ := r.json["permissions"].([]any); len(p) != 1 || p[0] != "invoices:read" {
		t.Errorf("permissions = %v", r.json["permissions"])
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
}

func TestIntrospectKey_AnswersByCaller(t *testing.T) {
	ke := newKeyEnv(t)
	acmeRS := ke.client("acme", []string{"core.invoice.read"})
	globexRS := ke.client("globex", []string{"core.invoice.read"})
	oldRS := ke.client("old", []string{"core.invoice.read"})
	tok := ke.token(acmeRS, "")
	tests := []struct {
		name     string
		caller   testClient
		key      string
		hint     string
		active   bool
		decision string // "" = the answer says active:false and nothing more
		scope    string
	}{
		{"all-APIs key maps to every scope with permissions", acmeRS, ke.allKey, oauth.TokenTypeHintAPIKey, true, "accepted", "core.invoice.read core.invoice.write"},
		{"key of another tenant", globexRS, ke.acmeKey, oauth.TokenTypeHintAPIKey, false, "", ""},
		{"operator sees any tenant's key", ke.operator, ke.acmeKey, oauth.TokenTypeHintAPIKey, true, "accepted", "core.invoice.read"},
		{"refused key of own tenant says why", oldRS, ke.oldKey, oauth.TokenTypeHintAPIKey, false, "api_key_sunset", "core.invoice.read"},
		{"unknown key", acmeRS, apikey.Generate(), oauth.TokenTypeHintAPIKey, false, "", ""},
		{"malformed key", acmeRS, "not a key", oauth.TokenTypeHintAPIKey, false, "", ""},
		{"key without hint is still found", acmeRS, ke.acmeKey, "", true, "accepted", "core.invoice.read"},
		{"key with the access_token hint is still found", acmeRS, ke.acmeKey, "access_token", true, "accepted", "core.invoice.read"},
		{"access token with the api_key hint is still found", acmeRS, tok, oauth.TokenTypeHintAPIKey, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ke.introspect(tt.caller, tt.key, tt.hint)
			if r.json["active"] != tt.active || r.str("decision") != tt.decision || (tt.scope != "" && r.str("scope") != tt.scope) {
				t.Fatalf("got %s; want active=%v decision=%q scope=%q", r.body, tt.active, tt.decision, tt.scope)
			}
			if !tt.active && tt.decision == "" && len(r.json) != 1 {
				t.Fatalf("the answer says more than active:false: %s", r.body)
			}
			if tt.decision != "" && tt.decision != "accepted" && r.str("decision_description") == "" {
				t.Errorf("a refusal without description: %s", r.body)
			}
		})
	}
}

// TestIntrospectKey_NotCountedAsUse: asking about a key is not using it.
func TestIntrospectKey_NotCountedAsUse(t *testing.T) {
	ke := newKeyEnv(t)
	rs := ke.client("acme", []string{"core.invoice.read"})
	for range 3 {
		ke.introspect(rs, ke.acmeKey, oauth.TokenTypeHintAPIKey)
	}
	if err := ke.svc.Flush(ke.ctx); err != nil {
		t.Fatal(err)
	}
	days, err := ke.st.ListUsage(ke.ctx, store.UsageFilter{KeyID: ke.acmeID})
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 0 {
		t.Errorf("introspection recorded usage: %+v", days)
	}
}

// TestIntrospectKey_DisabledKeyInactiveWithinASecond follows the change feed.
func TestIntrospectKey_DisabledKeyInactiveWithinASecond(t *testing.T) {
	ke := newKeyEnv(t)
	rs := ke.client("acme", []string{"core.invoice.read"})
	if r := ke.introspect(rs, ke.acmeKey, oauth.TokenTypeHintAPIKey); r.json["active"] != true {
		t.Fatalf("before: %s", r.body)
	}
	err := ke.st.Tx(ke.ctx, func(tx store.Tx) error {
		return tx.UpdateAPIKey(ke.ctx, ke.acmeID, func(k store.APIKey) (store.APIKey, error) {
			k.Status = store.StatusDisabled
			return k, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	ke.waitFor(func() bool {
		return ke.introspect(rs, ke.acmeKey, oauth.TokenTypeHintAPIKey).str("decision") == apikey.CodeDisabled
	})
}
