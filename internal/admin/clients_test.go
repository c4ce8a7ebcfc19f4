package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestCreateClient_Defaults_SecretShownOnceAndStoredHashed(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients",
		`{"name":"ERP export","scopes":["core.invoice.read"],"contact":{"login":"erp","email":"ops@acme.example"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	if strings.Contains(strings.ToLower(string(r.body)), "hash") {
		t.Errorf("answer mentions a hash: %s", r.body)
	}
	var got CreateClientResponse
	r.decode(t, &got)
	if !strings.HasPrefix(got.ClientID, "ksc_") || !credential.Valid(credential.PrefixClientSecret, got.ClientSecret) {
		t.Fatalf("client_id %q, secret valid = %v", got.ClientID, credential.Valid(credential.PrefixClientSecret, got.ClientSecret))
	}
	if !slices.Equal(got.GrantTypes, []string{"client_credentials"}) || got.AuthMethod != "client_secret_basic" ||
		got.AccessTokenTTLSeconds != 86400 || got.Status != "active" || got.Tenant != "acme" {
		t.Errorf("defaults not applied: %+v", got.ClientView)
	}
	if r.header.Get("Location") != "/admin/v1/tenants/acme/clients/"+got.ClientID {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	stored, err := e.st.GetClient(context.Background(), got.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	want := credential.Hash(got.ClientSecret)
	if len(stored.Secrets) != 1 || !credential.Equal(stored.Secrets[0].Hash, want[:]) ||
		stored.Secrets[0].Hint != credential.Hint(got.ClientSecret) {
		t.Errorf("stored secrets = %+v", stored.Secrets)
	}
	if stored.AccessTokenTTL != 24*time.Hour {
		t.Errorf("stored TTL = %v", stored.AccessTokenTTL)
	}
	evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "client.create", ObjectID: got.ClientID})
	if len(evs) != 1 {
		t.Fatalf("audit events = %d", len(evs))
	}
	ev := evs[0]
	if ev.Actor != acmeAdmin.ClientID || ev.ActorTenant != "acme" || ev.Tenant != "acme" || ev.RemoteAddr != "127.0.0.1" {
		t.Errorf("audit event = %+v", ev)
	}
	if strings.Contains(string(ev.Details), got.ClientSecret) || strings.Contains(string(ev.Details), "kss_") {
		t.Errorf("audit details hold the secret: %s", ev.Details)
	}

	// The secret appears in no other answer.
	for _, path := range []string{"/admin/v1/tenants/acme/clients", "/admin/v1/tenants/acme/clients/" + got.ClientID} {
		r := e.call(t, tokAcme, http.MethodGet, path, nil)
		if r.status != http.StatusOK || strings.Contains(string(r.body), got.ClientSecret) || strings.Contains(string(r.body), "client_secret\"") {
			t.Errorf("GET %s: status %d, body %s", path, r.status, r.body)
		}
	}
}

func TestCreateClient_Validation(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		tenant     string
		body       string
		wantStatus int
		wantField  string
	}{
		{"minimal", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"]}`, 201, ""},
		{"post auth and min ttl", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"token_endpoint_auth_method":"client_secret_post","access_token_ttl_seconds":300}`, 201, ""},
		{"loopback http redirect", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"redirect_uris":["http://127.0.0.1:8400/cb"]}`, 201, ""},
		{"name missing", tokOperator, "acme", `{"scopes":["core.invoice.read"]}`, 400, "name"},
		{"name too long", tokOperator, "acme", `{"name":"` + strings.Repeat("n", 201) + `","scopes":["core.invoice.read"]}`, 400, "name"},
		{"no scopes", tokOperator, "acme", `{"name":"a","scopes":[]}`, 400, "scopes"},
		{"scopes absent", tokOperator, "acme", `{"name":"a"}`, 400, "scopes"},
		{"unknown scope", tokOperator, "acme", `{"name":"a","scopes":["core.nothing.read"]}`, 400, "scopes[0]"},
		{"repeated scope", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read","core.invoice.read"]}`, 400, "scopes"},
		{"code grant without redirect URI", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"grant_types":["authorization_code"]}`, 400, "redirect_uris"},
		{"password grant", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"grant_types":["password"]}`, 400, "grant_types[0]"},
		{"repeated grant", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"grant_types":["client_credentials","client_credentials"]}`, 400, "grant_types"},
		{"auth method jwt without keys", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"token_endpoint_auth_method":"private_key_jwt"}`, 400, "jwks"},
		{"auth method client_secret_jwt", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"token_endpoint_auth_method":"client_secret_jwt"}`, 400, "token_endpoint_auth_method"},
		{"ttl too short", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"access_token_ttl_seconds":299}`, 400, "access_token_ttl_seconds"},
		{"ttl too long", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"access_token_ttl_seconds":86401}`, 400, "access_token_ttl_seconds"},
		{"ttl negative", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"access_token_ttl_seconds":-1}`, 400, "access_token_ttl_seconds"},
		{"bad email", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"contact":{"email":"Ops <ops@acme.example>"}}`, 400, "contact.email"},
		{"login with space", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"contact":{"login":"erp user"}}`, 400, "contact.login"},
		{"first name control", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"contact":{"first_name":"a\nb"}}`, 400, "contact.first_name"},
		{"unknown contact field", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"contact":{"phone":"1"}}`, 400, ""},
		{"http redirect", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"redirect_uris":["http://app.example/cb"]}`, 400, "redirect_uris[0]"},
		{"fragment redirect", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"redirect_uris":["https://app.example/cb#x"]}`, 400, "redirect_uris[0]"},
		{"relative redirect", tokOperator, "acme", `{"name":"a","scopes":["core.invoice.read"],"redirect_uris":["/cb"]}`, 400, "redirect_uris[0]"},
		{"admin scope outside platform", tokOperator, "acme", `{"name":"a","scopes":["keyshift:admin"]}`, 400, "scopes[0]"},
		{"admin scope on platform", tokOperator, "platform", `{"name":"ops","scopes":["keyshift:admin"]}`, 201, ""},
		{"admin scope by platform tenant admin", tokPlatform, "platform", `{"name":"ops","scopes":["keyshift:admin"]}`, 400, "scopes[0]"},
		{"tenant-admin scope by tenant admin", tokAcme, "acme", `{"name":"a","scopes":["keyshift:tenant-admin"]}`, 201, ""},
		{"tenant-admin scope by operator", tokOperator, "globex", `{"name":"a","scopes":["keyshift:tenant-admin"]}`, 201, ""},
		{"unknown tenant", tokOperator, "nosuch", `{"name":"a","scopes":["core.invoice.read"]}`, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.call(t, tt.token, http.MethodPost, "/admin/v1/tenants/"+tt.tenant+"/clients", tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			n := e.auditCount(t, "client.create", "")
			if r.status == http.StatusCreated {
				if n != 1 {
					t.Errorf("audit events = %d, want 1", n)
				}
				return
			}
			p := r.problem(t)
			if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
				t.Errorf("errors = %v, want %q", p.Errors, tt.wantField)
			}
			if n != 0 {
				t.Errorf("audit events = %d after a failed create", n)
			}
			if cs, _ := e.st.ListClients(context.Background(), ""); len(cs) != 0 {
				t.Errorf("%d clients stored after a failed create", len(cs))
			}
		})
	}
}

func TestCreateClient_LoginTaken_409AndNothingWritten(t *testing.T) {
	e := newEnv(t)
	first := e.mustCreateClient(t, "acme", CreateClientRequest{Contact: store.Contact{Login: "erp"}})
	for _, login := range []string{"erp", "ERP"} {
		r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients",
			`{"name":"second","scopes":["core.invoice.read"],"contact":{"login":"`+login+`"}}`)
		if r.status != http.StatusConflict {
			t.Fatalf("login %q: status = %d: %s", login, r.status, r.body)
		}
		if p := r.problem(t); p.Title != "Login has already been taken" || !slices.Contains(fieldsOf(p), "contact.login") {
			t.Errorf("problem = %+v", p)
		}
	}
	cs, _ := e.st.ListClients(context.Background(), "acme")
	if len(cs) != 1 || cs[0].ID != first.ClientID {
		t.Errorf("clients = %d, want only the first", len(cs))
	}
	if n := e.auditCount(t, "client.create", ""); n != 1 {
		t.Errorf("client.create events = %d, want 1", n)
	}
	// The same login in another tenant is fine.
	e.mustCreateClient(t, "globex", CreateClientRequest{Contact: store.Contact{Login: "erp"}})
}

func TestUpdateClient(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		body       string
		wantStatus int
		wantField  string
		check      func(t *testing.T, c ClientView)
	}{
		{"disable", tokAcme, `{"status":"disabled"}`, 200, "", func(t *testing.T, c ClientView) {
			if c.Status != "disabled" {
				t.Errorf("status = %q", c.Status)
			}
		}},
		{"scopes and ttl", tokAcme, `{"scopes":["core.invoice.write","core.supplier.read"],"access_token_ttl_seconds":3600}`, 200, "", func(t *testing.T, c ClientView) {
			if !slices.Equal(c.Scopes, []string{"core.invoice.write", "core.supplier.read"}) || c.AccessTokenTTLSeconds != 3600 {
				t.Errorf("client = %+v", c)
			}
		}},
		{"contact merge", tokAcme, `{"contact":{"email":"new@acme.example"}}`, 200, "", func(t *testing.T, c ClientView) {
			if c.Contact.Email != "new@acme.example" || c.Contact.Login != "erp" {
				t.Errorf("contact = %+v", c.Contact)
			}
		}},
		{"rename and redirect", tokAcme, `{"name":"New","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`, 200, "", func(t *testing.T, c ClientView) {
			if c.Name != "New" || !slices.Equal(c.RedirectURIs, []string{"https://app.example/cb"}) || c.AuthMethod != "client_secret_post" {
				t.Errorf("client = %+v", c)
			}
		}},
		{"bad status", tokAcme, `{"status":"paused"}`, 400, "status", nil},
		{"empty scopes", tokAcme, `{"scopes":[]}`, 400, "scopes", nil},
		{"unknown scope", tokAcme, `{"scopes":["core.nothing.read"]}`, 400, "scopes[0]", nil},
		{"admin scope", tokOperator, `{"scopes":["keyshift:admin"]}`, 400, "scopes[0]", nil},
		{"ttl out of range", tokAcme, `{"access_token_ttl_seconds":100000}`, 400, "access_token_ttl_seconds", nil},
		{"blank name", tokAcme, `{"name":" "}`, 400, "name", nil},
		{"bad email", tokAcme, `{"contact":{"email":"nope"}}`, 400, "contact.email", nil},
		{"login taken", tokAcme, `{"contact":{"login":"other"}}`, 409, "contact.login", nil},
		{"unknown field", tokAcme, `{"secrets":[]}`, 400, "", nil},
		{"other tenant admin", tokGlobex, `{"status":"disabled"}`, 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.mustCreateClient(t, "acme", CreateClientRequest{Contact: store.Contact{Login: "erp"}})
			e.mustCreateClient(t, "acme", CreateClientRequest{Contact: store.Contact{Login: "other"}})
			path := "/admin/v1/tenants/acme/clients/" + c.ClientID
			if tt.token == tokGlobex {
				path = "/admin/v1/tenants/globex/clients/" + c.ClientID
			}
			r := e.call(t, tt.token, http.MethodPatch, path, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			n := e.auditCount(t, "client.update", c.ClientID)
			if r.status != http.StatusOK {
				p := r.problem(t)
				if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
					t.Errorf("errors = %v, want %q", p.Errors, tt.wantField)
				}
				if n != 0 {
					t.Errorf("audit events = %d after a failed update", n)
				}
				return
			}
			var got ClientView
			r.decode(t, &got)
			tt.check(t, got)
			stored, _ := e.api.GetClient(context.Background(), operator, "acme", c.ClientID)
			tt.check(t, stored)
			if n != 1 {
				t.Errorf("audit events = %d, want 1", n)
			}
		})
	}
}

func TestClientPaths_ClientOfOtherTenant_404(t *testing.T) {
	e := newEnv(t)
	g := e.mustCreateClient(t, "globex", CreateClientRequest{})
	path := "/admin/v1/tenants/acme/clients/" + g.ClientID
	for _, tok := range []string{tokAcme, tokOperator} {
		for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
			var body any
			if m == http.MethodPatch {
				body = `{"status":"disabled"}`
			}
			if r := e.call(t, tok, m, path, body); r.status != http.StatusNotFound {
				t.Errorf("%s %s %s = %d, want 404", tok, m, path, r.status)
			}
		}
		if r := e.call(t, tok, http.MethodPost, path+"/secrets", nil); r.status != http.StatusNotFound {
			t.Errorf("%s rotate = %d, want 404", tok, r.status)
		}
	}
	stored, _ := e.st.GetClient(context.Background(), g.ClientID)
	if stored.Status != store.StatusActive || len(stored.Secrets) != 1 {
		t.Errorf("globex client changed: %+v", stored)
	}
}

func TestOperatorClient_PlatformTenantAdminCannotTakeOver(t *testing.T) {
	e := newEnv(t)
	ops := e.mustCreateClient(t, "platform", CreateClientRequest{Scopes: []string{oauth.ScopeAdmin}})
	base := "/admin/v1/tenants/platform/clients/" + ops.ClientID
	tests := []struct{ method, path, body string }{
		{http.MethodPost, base + "/secrets", ""},
		{http.MethodPatch, base, `{"status":"disabled"}`},
		{http.MethodDelete, base, ""},
	}
	for _, tt := range tests {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		if r := e.call(t, tokPlatform, tt.method, tt.path, body); r.status != http.StatusForbidden {
			t.Errorf("%s %s = %d, want 403", tt.method, tt.path, r.status)
		}
	}
	if r := e.call(t, tokPlatform, http.MethodGet, base, nil); r.status != http.StatusOK {
		t.Errorf("read = %d, want 200", r.status)
	}
}

func TestListClients(t *testing.T) {
	e := newEnv(t)
	a := e.mustCreateClient(t, "acme", CreateClientRequest{})
	e.mustCreateClient(t, "globex", CreateClientRequest{})
	r := e.call(t, tokAcme, http.MethodGet, "/admin/v1/tenants/acme/clients", nil)
	var list ClientList
	r.decode(t, &list)
	if len(list.Clients) != 1 || list.Clients[0].ClientID != a.ClientID || len(list.Clients[0].Secrets) != 1 {
		t.Fatalf("list = %+v", list)
	}
	if r := e.call(t, tokOperator, http.MethodGet, "/admin/v1/tenants/nosuch/clients", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown tenant: %d", r.status)
	}
}

func TestDeleteClient(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	path := "/admin/v1/tenants/acme/clients/" + c.ClientID
	if r := e.call(t, tokAcme, http.MethodDelete, path, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete = %d: %s", r.status, r.body)
	}
	if r := e.call(t, tokAcme, http.MethodGet, path, nil); r.status != http.StatusNotFound {
		t.Errorf("get after delete = %d", r.status)
	}
	if r := e.call(t, tokAcme, http.MethodDelete, path, nil); r.status != http.StatusNotFound {
		t.Errorf("second delete = %d", r.status)
	}
	if n := e.auditCount(t, "client.delete", c.ClientID); n != 1 {
		t.Errorf("audit events = %d", n)
	}
}
