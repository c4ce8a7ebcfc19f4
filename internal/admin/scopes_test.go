package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

func TestPutScope(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		scope      string
		body       string
		wantStatus int
		wantField  string
	}{
		{"create", tokOperator, "core.purchase_order.read", `{"description":"Read POs","permissions":["purchase_orders:read"]}`, http.StatusOK, ""},
		{"four segments", tokOperator, "core.invoice.approval.bypass", `{"description":"Bypass"}`, http.StatusOK, ""},
		{"replace existing", tokOperator, "core.invoice.read", `{"description":"Read invoices","permissions":["invoices:read","invoices:show"]}`, http.StatusOK, ""},
		{"two segments", tokOperator, "core.invoice", `{"description":"x"}`, http.StatusBadRequest, "name"},
		{"uppercase", tokOperator, "Core.Invoice.Read", `{"description":"x"}`, http.StatusBadRequest, "name"},
		{"hyphen", tokOperator, "core.purchase-order.read", `{"description":"x"}`, http.StatusBadRequest, "name"},
		{"empty segment", tokOperator, "core..read", `{"description":"x"}`, http.StatusBadRequest, "name"},
		{"keyshift prefix", tokOperator, "keyshift:superuser", `{"description":"x"}`, http.StatusBadRequest, "name"},
		{"bad permission", tokOperator, "core.invoice.read", `{"permissions":["invoices-read"]}`, http.StatusBadRequest, "permissions[0]"},
		{"uppercase permission", tokOperator, "core.invoice.read", `{"permissions":["Invoices:read"]}`, http.StatusBadRequest, "permissions[0]"},
		{"duplicate permission", tokOperator, "core.invoice.read", `{"permissions":["invoices:read","invoices:read"]}`, http.StatusBadRequest, "permissions"},
		{"control char description", tokOperator, "core.invoice.read", `{"description":"a\u0000b"}`, http.StatusBadRequest, "description"},
		{"builtin openid", tokOperator, "openid", `{"description":"mine"}`, http.StatusConflict, ""},
		{"builtin admin", tokOperator, "keyshift:admin", `{"description":"mine"}`, http.StatusConflict, ""},
		{"tenant admin refused", tokAcme, "core.invoice.read", `{"description":"mine"}`, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.auditCount(t, "", tt.scope)
			r := e.call(t, tt.token, http.MethodPut, "/admin/v1/scopes/"+tt.scope, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			after := e.auditCount(t, "", tt.scope)
			if r.status != http.StatusOK {
				p := r.problem(t)
				if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
					t.Errorf("errors = %v, want %q", p.Errors, tt.wantField)
				}
				if after != before {
					t.Error("audit event written for a refused change")
				}
				return
			}
			var got store.Scope
			r.decode(t, &got)
			stored, err := e.st.GetScope(context.Background(), tt.scope)
			if err != nil || stored.Description != got.Description || !slices.Equal(stored.Permissions, got.Permissions) {
				t.Errorf("stored %+v (%v), answered %+v", stored, err, got)
			}
			if after != before+1 {
				t.Errorf("audit events %d -> %d, want one more", before, after)
			}
		})
	}
}

func TestPutScope_Replace_KeepsCreatedAt(t *testing.T) {
	e := newEnv(t)
	orig, _ := e.st.GetScope(context.Background(), "core.invoice.read")
	e.clock.Add(3600e9)
	s, err := e.api.PutScope(context.Background(), operator, "core.invoice.read", PutScopeRequest{Description: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.CreatedAt.Equal(orig.CreatedAt) || !s.UpdatedAt.After(orig.UpdatedAt) {
		t.Errorf("created %v updated %v; original created %v", s.CreatedAt, s.UpdatedAt, orig.CreatedAt)
	}
	if n := e.auditCount(t, "scope.update", "core.invoice.read"); n != 1 {
		t.Errorf("scope.update events = %d", n)
	}
}

func TestListScopes_IncludesBuiltinsAndCatalogue(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{tokOperator, tokAcme} {
		r := e.call(t, tok, http.MethodGet, "/admin/v1/scopes", nil)
		var list ScopeList
		r.decode(t, &list)
		byName := map[string]store.Scope{}
		for _, s := range list.Scopes {
			byName[s.Name] = s
		}
		for _, b := range builtinScopes {
			if !byName[b.name].Builtin {
				t.Errorf("%s: built-in %s missing or not built in", tok, b.name)
			}
		}
		if got := byName["core.invoice.read"].Permissions; !slices.Equal(got, []string{"invoices:read"}) {
			t.Errorf("core.invoice.read permissions = %v", got)
		}
	}
}
