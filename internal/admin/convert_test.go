package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func TestConvertKey_ClientWithExactScopes_LinkedBothWays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A scope covering more than the key holds must not be granted.
	if _, err := e.api.PutScope(context.Background(), operator, "core.invoice.all", PutScopeRequest{
		Description: "all", Permissions: []string{"invoices:read", "invoices:write", "invoices:delete"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.PutScope(context.Background(), operator, "core.payment.read", PutScopeRequest{
		Description: "pay", Permissions: []string{"payments:read", "payments:export"}}); err != nil {
		t.Fatal(err)
	}
	k := e.mustCreateKey(t, "acme", CreateKeyRequest{Permissions: []string{"invoices:read", "invoices:write", "payments:read"},
		Contact: store.Contact{Login: "jdoe", Email: "jdoe@acme.example", FirstName: "Jane"}})
	r := e.call(t, tokAcme, "POST", "/admin/v1/tenants/acme/keys/"+k.ID+"/convert", map[string]any{"disable_key_at": "2027-01-15"})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var resp ConvertKeyResponse
	r.decode(t, &resp)
	if !slices.Equal(resp.Scopes, []string{"core.invoice.read", "core.invoice.write"}) ||
		!slices.Equal(resp.UnmappedPermissions, []string{"payments:read"}) || resp.ClientSecret == "" {
		t.Fatalf("response = %+v", resp)
	}
	c, err := e.st.GetClient(context.Background(), resp.ClientID)
	if err != nil || c.ConvertedFromKey != k.ID || c.Contact.Login != "jdoe" || c.Contact.Email != "jdoe@acme.example" ||
		c.Tenant != "acme" || !slices.Equal(c.Scopes, resp.Scopes) {
		t.Fatalf("client = %+v, %v", c, err)
	}
	sk, _ := e.st.GetAPIKey(context.Background(), k.ID)
	if sk.ConvertedToClient != c.ID || sk.DisableAt == nil || !sk.DisableAt.Equal(time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)) ||
		sk.Status != store.StatusActive {
		t.Fatalf("key = %+v", sk)
	}
	if e.auditCount(t, "api_key.convert", k.ID) != 1 || e.auditCount(t, "client.create", c.ID) != 1 {
		t.Error("missing audit events")
	}
	again := e.call(t, tokAcme, "POST", "/admin/v1/tenants/acme/keys/"+k.ID+"/convert", nil)
	if again.status != http.StatusConflict {
		t.Fatalf("second conversion: %d %s", again.status, again.body)
	}
	if cs, _ := e.st.ListClients(context.Background(), "acme"); len(cs) != 1 {
		t.Errorf("clients = %d, want 1", len(cs))
	}
}

func TestConvertKey_AllAPIsKeyGetsEveryAPIScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := e.mustCreateKey(t, "acme", CreateKeyRequest{})
	resp, err := e.api.ConvertKey(context.Background(), acmeAdmin, "acme", k.ID, ConvertKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"core.invoice.read", "core.invoice.write", "core.supplier.read"}
	if !slices.Equal(resp.Scopes, want) || len(resp.UnmappedPermissions) != 0 {
		t.Errorf("scopes %v unmapped %v, want %v", resp.Scopes, resp.UnmappedPermissions, want)
	}
}

func TestConvertKey_Refusals_NothingHalfWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plat := e.mustCreateKey(t, "acme", CreateKeyRequest{Name: "sftp", Owner: "platform", Purpose: "sftp-loader", Permissions: []string{"invoices:read"}})
	other := e.mustCreateKey(t, "globex", CreateKeyRequest{Permissions: []string{"invoices:read"}})
	taken := e.mustCreateKey(t, "acme", CreateKeyRequest{Permissions: []string{"invoices:read"}, Contact: store.Contact{Login: "busy"}})
	e.mustCreateClient(t, "acme", CreateClientRequest{Contact: store.Contact{Login: "busy"}})
	revoked := e.mustCreateKey(t, "acme", CreateKeyRequest{Permissions: []string{"invoices:read"}})
	if _, err := e.api.UpdateKey(context.Background(), operator, "acme", revoked.ID, UpdateKeyRequest{Status: ptrTo("revoked")}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, path string
		body              any
		want              int
	}{
		{"tenant admin, platform key", tokAcme, "/admin/v1/tenants/acme/keys/" + plat.ID, nil, http.StatusForbidden},
		{"tenant admin, other tenant's key", tokAcme, "/admin/v1/tenants/acme/keys/" + other.ID, nil, http.StatusNotFound},
		{"tenant admin, other tenant", tokAcme, "/admin/v1/tenants/globex/keys/" + other.ID, nil, http.StatusNotFound},
		{"contact login taken by a client", tokAcme, "/admin/v1/tenants/acme/keys/" + taken.ID, nil, http.StatusConflict},
		{"revoked key", tokOperator, "/admin/v1/tenants/acme/keys/" + revoked.ID, nil, http.StatusConflict},
		{"disable date in the past", tokAcme, "/admin/v1/tenants/acme/keys/" + taken.ID, map[string]any{"disable_key_at": "2020-01-01"}, http.StatusBadRequest},
		{"disable date malformed", tokAcme, "/admin/v1/tenants/acme/keys/" + taken.ID, map[string]any{"disable_key_at": "soon"}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.token, "POST", tc.path+"/convert", tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			r.problem(t)
		})
	}
	all, _ := e.st.ListClients(context.Background(), "")
	for _, c := range all {
		if c.ConvertedFromKey != "" {
			t.Errorf("client %s created by a refused conversion", c.ID)
		}
	}
	for _, id := range []string{plat.ID, other.ID, taken.ID, revoked.ID} {
		if k, _ := e.st.GetAPIKey(context.Background(), id); k.ConvertedToClient != "" || k.DisableAt != nil {
			t.Errorf("key %s linked by a refused conversion: %+v", id, k)
		}
	}
	// The operator may convert the platform key.
	if _, err := e.api.ConvertKey(context.Background(), operator, "acme", plat.ID, ConvertKeyRequest{}); err != nil {
		t.Errorf("operator converting platform key: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }
