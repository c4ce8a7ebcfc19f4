package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

func TestCreateTenant(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		body       string
		wantStatus int
		wantField  string
	}{
		{"operator creates", tokOperator, `{"id":"initech","name":"Initech"}`, http.StatusCreated, ""},
		{"two-char id", tokOperator, `{"id":"i1","name":"Initech"}`, http.StatusCreated, ""},
		{"id missing", tokOperator, `{"name":"Initech"}`, http.StatusBadRequest, "id"},
		{"id uppercase", tokOperator, `{"id":"Initech","name":"Initech"}`, http.StatusBadRequest, "id"},
		{"id one char", tokOperator, `{"id":"i","name":"Initech"}`, http.StatusBadRequest, "id"},
		{"id leading hyphen", tokOperator, `{"id":"-initech","name":"Initech"}`, http.StatusBadRequest, "id"},
		{"id too long", tokOperator, `{"id":"` + strings.Repeat("a", 64) + `","name":"Initech"}`, http.StatusBadRequest, "id"},
		{"id reserved", tokOperator, `{"id":"platform","name":"Initech"}`, http.StatusBadRequest, "id"},
		{"name missing", tokOperator, `{"id":"initech"}`, http.StatusBadRequest, "name"},
		{"name blank", tokOperator, `{"id":"initech","name":"   "}`, http.StatusBadRequest, "name"},
		{"name control char", tokOperator, `{"id":"initech","name":"a\u0007b"}`, http.StatusBadRequest, "name"},
		{"name too long", tokOperator, `{"id":"initech","name":"` + strings.Repeat("n", 201) + `"}`, http.StatusBadRequest, "name"},
		{"duplicate id", tokOperator, `{"id":"acme","name":"Acme again"}`, http.StatusConflict, ""},
		{"tenant admin refused", tokAcme, `{"id":"initech","name":"Initech"}`, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.call(t, tt.token, http.MethodPost, "/admin/v1/tenants", tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantStatus == http.StatusCreated {
				var got store.Tenant
				r.decode(t, &got)
				if got.Status != store.StatusActive || got.CreatedAt.IsZero() {
					t.Errorf("tenant = %+v", got)
				}
				if n := e.auditCount(t, "tenant.create", got.ID); n != 1 {
					t.Errorf("audit events = %d, want 1", n)
				}
				return
			}
			p := r.problem(t)
			if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
				t.Errorf("errors = %v, want field %q", p.Errors, tt.wantField)
			}
			if e.auditCount(t, "tenant.create", "initech") != 0 {
				t.Error("audit event written for a failed create")
			}
		})
	}
}

func TestCreateTenant_Duplicate_NoSecondAuditEvent(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, tokOperator, http.MethodPost, "/admin/v1/tenants", `{"id":"acme","name":"Again"}`)
	if r.status != http.StatusConflict {
		t.Fatalf("status = %d", r.status)
	}
	if n := e.auditCount(t, "tenant.create", "acme"); n != 1 {
		t.Errorf("audit events for acme = %d, want 1 (the seed)", n)
	}
}

func TestListTenants_OperatorSeesAll_TenantAdminOnlyOwn(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		token string
		want  []string
	}{
		{tokOperator, []string{"acme", "globex", "platform"}},
		{tokAcme, []string{"acme"}},
		{tokGlobex, []string{"globex"}},
	}
	for _, tt := range tests {
		r := e.call(t, tt.token, http.MethodGet, "/admin/v1/tenants", nil)
		var list TenantList
		r.decode(t, &list)
		var got []string
		for _, tn := range list.Tenants {
			got = append(got, tn.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s sees %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestTenantPaths_OtherTenant_404(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ method, path, body string }{
		{http.MethodGet, "/admin/v1/tenants/globex", ""},
		{http.MethodPatch, "/admin/v1/tenants/globex", `{"name":"Mine"}`},
		{http.MethodDelete, "/admin/v1/tenants/globex", ""},
		{http.MethodGet, "/admin/v1/tenants/globex/clients", ""},
		{http.MethodPost, "/admin/v1/tenants/globex/clients", `{"name":"x","scopes":["core.invoice.read"]}`},
		{http.MethodGet, "/admin/v1/tenants/globex/clients/ksc_whatever", ""},
		{http.MethodPatch, "/admin/v1/tenants/globex/clients/ksc_whatever", `{"name":"x"}`},
		{http.MethodDelete, "/admin/v1/tenants/globex/clients/ksc_whatever", ""},
		{http.MethodPost, "/admin/v1/tenants/globex/clients/ksc_whatever/secrets", ""},
		{http.MethodGet, "/admin/v1/tenants/nosuch", ""},
		{http.MethodGet, "/admin/v1/audit?tenant=globex", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := e.call(t, tokAcme, tt.method, tt.path, body)
			if r.status != http.StatusNotFound {
				t.Fatalf("status = %d, want 404: %s", r.status, r.body)
			}
			r.problem(t)
		})
	}
	if _, err := e.st.GetTenant(context.Background(), "globex"); err != nil {
		t.Fatalf("globex was touched: %v", err)
	}
}

func TestGetTenant(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		token, path string
		want        int
	}{
		{tokOperator, "/admin/v1/tenants/acme", http.StatusOK},
		{tokOperator, "/admin/v1/tenants/nosuch", http.StatusNotFound},
		{tokAcme, "/admin/v1/tenants/acme", http.StatusOK},
	}
	for _, tt := range tests {
		if r := e.call(t, tt.token, http.MethodGet, tt.path, nil); r.status != tt.want {
			t.Errorf("%s GET %s = %d, want %d", tt.token, tt.path, r.status, tt.want)
		}
	}
}

func TestUpdateTenant(t *testing.T) {
	tests := []struct {
		name             string
		token            string
		path             string
		body             string
		wantStatus       int
		wantField        string
		wantName         string
		wantTenantStatus string
	}{
		{"rename", tokOperator, "/admin/v1/tenants/acme", `{"name":"Acme Inc"}`, http.StatusOK, "", "Acme Inc", "active"},
		{"disable", tokOperator, "/admin/v1/tenants/acme", `{"status":"disabled"}`, http.StatusOK, "", "Acme Corp", "disabled"},
		{"bad status", tokOperator, "/admin/v1/tenants/acme", `{"status":"paused"}`, http.StatusBadRequest, "status", "", ""},
		{"blank name", tokOperator, "/admin/v1/tenants/acme", `{"name":""}`, http.StatusBadRequest, "name", "", ""},
		{"disable platform", tokOperator, "/admin/v1/tenants/platform", `{"status":"disabled"}`, http.StatusBadRequest, "status", "", ""},
		{"unknown tenant", tokOperator, "/admin/v1/tenants/nosuch", `{"name":"X"}`, http.StatusNotFound, "", "", ""},
		{"tenant admin own tenant", tokAcme, "/admin/v1/tenants/acme", `{"name":"Mine"}`, http.StatusForbidden, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.call(t, tt.token, http.MethodPatch, tt.path, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if r.status != http.StatusOK {
				p := r.problem(t)
				if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
					t.Errorf("errors = %v, want %q", p.Errors, tt.wantField)
				}
				if n := e.auditCount(t, "tenant.update", ""); n != 0 {
					t.Errorf("audit events = %d after a failed update", n)
				}
				return
			}
			var got store.Tenant
			r.decode(t, &got)
			if got.Name != tt.wantName || got.Status != tt.wantTenantStatus {
				t.Errorf("tenant = %+v", got)
			}
			stored, _ := e.st.GetTenant(context.Background(), "acme")
			if stored.Name != tt.wantName || stored.Status != tt.wantTenantStatus {
				t.Errorf("stored tenant = %+v", stored)
			}
			if n := e.auditCount(t, "tenant.update", "acme"); n != 1 {
				t.Errorf("audit events = %d, want 1", n)
			}
		})
	}
}

func TestDeleteTenant(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	if r := e.call(t, tokAcme, http.MethodDelete, "/admin/v1/tenants/acme", nil); r.status != http.StatusForbidden {
		t.Fatalf("tenant admin delete: status %d", r.status)
	}
	if r := e.call(t, tokOperator, http.MethodDelete, "/admin/v1/tenants/platform", nil); r.status != http.StatusConflict {
		t.Fatalf("platform delete: status %d", r.status)
	}
	if r := e.call(t, tokOperator, http.MethodDelete, "/admin/v1/tenants/acme", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: status %d: %s", r.status, r.body)
	}
	if _, err := e.st.GetClient(context.Background(), c.ClientID); err == nil {
		t.Error("the tenant's client survived")
	}
	if r := e.call(t, tokOperator, http.MethodDelete, "/admin/v1/tenants/acme", nil); r.status != http.StatusNotFound {
		t.Fatalf("second delete: status %d", r.status)
	}
	if n := e.auditCount(t, "tenant.delete", "acme"); n != 1 {
		t.Errorf("audit events = %d, want 1", n)
	}
}
