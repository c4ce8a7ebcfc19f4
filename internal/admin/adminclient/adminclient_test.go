package adminclient_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/adminclient"
	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/oauth"
)

func TestClient_OperatorRoundTrip(t *testing.T) {
	s := admintest.New(t)
	ctx := context.Background()
	c := adminclient.New(s.URL, s.ClientID, s.ClientSecret, []string{oauth.ScopeAdmin})

	tn, err := c.CreateTenant(ctx, admin.CreateTenantRequest{ID: "acme", Name: "Acme Corp"})
	if err != nil || tn.ID != "acme" {
		t.Fatalf("create tenant: %+v, %v", tn, err)
	}
	if _, err := c.PutScope(ctx, "core.invoice.read", admin.PutScopeRequest{Description: "Read invoices", Permissions: []string{"invoices:read"}}); err != nil {
		t.Fatalf("put scope: %v", err)
	}
	cl, err := c.CreateClient(ctx, "acme", admin.CreateClientRequest{Name: "ERP", Scopes: []string{"core.invoice.read", oauth.ScopeTenantAdmin}})
	if err != nil || cl.ClientSecret == "" {
		t.Fatalf("create client: %+v, %v", cl, err)
	}
	off := "disabled"
	up, err := c.UpdateClient(ctx, "acme", cl.ClientID, admin.UpdateClientRequest{Name: &off})
	if err != nil || up.Name != "disabled" {
		t.Fatalf("update client: %+v, %v", up, err)
	}
	rot, err := c.RotateClientSecret(ctx, "acme", cl.ClientID, admin.RotateSecretRequest{})
	if err != nil || rot.ClientSecret == "" || len(rot.Secrets) != 2 {
		t.Fatalf("rotate: %+v, %v", rot, err)
	}
	keys, err := c.RotateSigningKeys(ctx)
	if err != nil || len(keys) < 2 {
		t.Fatalf("rotate keys: %+v, %v", keys, err)
	}
	audit, err := c.ListAudit(ctx, admin.AuditQuery{Tenant: "acme", Limit: 10})
	if err != nil || len(audit.Events) < 3 {
		t.Fatalf("audit: %+v, %v", audit, err)
	}
	if err := c.DeleteClient(ctx, "acme", cl.ClientID); err != nil {
		t.Fatalf("delete client: %v", err)
	}
	if err := c.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatalf("delete tenant: %v", err)
	}
}

func TestClient_ProblemAnswers_AreProblems(t *testing.T) {
	s := admintest.New(t)
	ctx := context.Background()
	c := adminclient.New(s.URL, s.ClientID, s.ClientSecret, nil)
	_, err := c.CreateTenant(ctx, admin.CreateTenantRequest{ID: "platform", Name: "x"})
	var p *admin.Problem
	if !errors.As(err, &p) || p.Status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "id" {
		t.Fatalf("err = %#v", err)
	}
	_, err = c.GetTenant(ctx, "nosuch")
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Fatalf("err = %v", err)
	}
}

func TestClient_WrongSecret_TokenErrorExplained(t *testing.T) {
	s := admintest.New(t)
	c := adminclient.New(s.URL, s.ClientID, "kss_wrong", nil)
	_, err := c.ListTenants(context.Background())
	if err == nil || !strings.Contains(err.Error(), "get access token: invalid_client") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "kss_wrong") {
		t.Error("error shows the secret")
	}
}

func TestClient_TenantAdminToken_SeesOnlyOwnTenant(t *testing.T) {
	s := admintest.New(t)
	ctx := context.Background()
	op := adminclient.New(s.URL, s.ClientID, s.ClientSecret, nil)
	for _, id := range []string{"acme", "globex"} {
		if _, err := op.CreateTenant(ctx, admin.CreateTenantRequest{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	ta, err := op.CreateClient(ctx, "acme", admin.CreateClientRequest{Name: "acme admin", Scopes: []string{oauth.ScopeTenantAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	c := adminclient.New(s.URL, ta.ClientID, ta.ClientSecret, []string{oauth.ScopeTenantAdmin})
	var ts []string
	deadline := time.Now().Add(3 * time.Second) // the token endpoint learns of new clients through the change feed
	for {
		list, err := c.ListTenants(ctx)
		if err == nil {
			for _, tn := range list {
				ts = append(ts, tn.ID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant admin never got a token: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(ts) != 1 || ts[0] != "acme" {
		t.Errorf("tenant admin sees %v", ts)
	}
	var p *admin.Problem
	if _, err := c.ListClients(ctx, "globex"); !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Errorf("globex clients: %v", err)
	}
}
