package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/keyshift/keyshift/internal/store"
)

// CreateTenantRequest is the body of POST /admin/v1/tenants.
type CreateTenantRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// UpdateTenantRequest is the body of PATCH /admin/v1/tenants/{tenant}; nil
// fields stay unchanged.
type UpdateTenantRequest struct {
	Name   *string `json:"name,omitempty"`
	Status *string `json:"status,omitempty"`
}

// TenantList is the answer of GET /admin/v1/tenants.
type TenantList struct {
	Tenants []store.Tenant `json:"tenants"`
}

// CreateTenant creates a tenant (operators only).
func (a *API) CreateTenant(ctx context.Context, p Principal, req CreateTenantRequest) (store.Tenant, error) {
	if !p.IsOperator() {
		return store.Tenant{}, errForbidden("only operators create tenants")
	}
	var v validation
	if msg := checkTenantID(req.ID); msg != "" {
		v.add("id", msg)
	} else if req.ID == store.PlatformTenant {
		v.add("id", "is reserved")
	}
	checkText(&v, "name", req.Name, maxNameLen, true)
	if err := v.err(); err != nil {
		return store.Tenant{}, err
	}
	now := a.clock()
	t := store.Tenant{ID: req.ID, Name: req.Name, Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, t.ID, "tenant.create", "tenant", t.ID, details("name", t.Name)))
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.Tenant{}, errConflict("Tenant already exists", fmt.Sprintf("tenant %q already exists", t.ID))
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return t, nil
}

// ListTenants lists every tenant for operators and only its own for a
// tenant admin.
func (a *API) ListTenants(ctx context.Context, p Principal) ([]store.Tenant, error) {
	if p.IsOperator() {
		ts, err := a.st.ListTenants(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		return ts, nil
	}
	t, err := a.GetTenant(ctx, p, p.Tenant)
	if err != nil {
		return nil, err
	}
	return []store.Tenant{t}, nil
}

// GetTenant returns one tenant.
func (a *API) GetTenant(ctx context.Context, p Principal, id string) (store.Tenant, error) {
	if !p.canSeeTenant(id) {
		return store.Tenant{}, errNotFound("tenant")
	}
	t, err := a.st.GetTenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, errNotFound("tenant")
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

// UpdateTenant renames, disables or enables a tenant (operators only).
func (a *API) UpdateTenant(ctx context.Context, p Principal, id string, req UpdateTenantRequest) (store.Tenant, error) {
	if err := a.operatorOnTenant(p, id, "update tenants"); err != nil {
		return store.Tenant{}, err
	}
	var v validation
	if req.Name != nil {
		checkText(&v, "name", *req.Name, maxNameLen, true)
	}
	if req.Status != nil {
		switch {
		case *req.Status != store.StatusActive && *req.Status != store.StatusDisabled:
			v.add("status", `must be "active" or "disabled"`)
		case id == store.PlatformTenant && *req.Status == store.StatusDisabled:
			v.add("status", "the platform tenant cannot be disabled")
		}
	}
	if err := v.err(); err != nil {
		return store.Tenant{}, err
	}
	var out store.Tenant
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		err := tx.UpdateTenant(ctx, id, func(t store.Tenant) (store.Tenant, error) {
			if req.Name != nil {
				t.Name = *req.Name
			}
			if req.Status != nil {
				t.Status = *req.Status
			}
			t.UpdatedAt = a.clock()
			out = t
			return t, nil
		})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, id, "tenant.update", "tenant", id, details("name", req.Name, "status", req.Status)))
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, errNotFound("tenant")
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("update tenant %s: %w", id, err)
	}
	return out, nil
}

// DeleteTenant deletes a tenant and everything it owns (operators only).
func (a *API) DeleteTenant(ctx context.Context, p Principal, id string) error {
	if err := a.operatorOnTenant(p, id, "delete tenants"); err != nil {
		return err
	}
	if id == store.PlatformTenant {
		return errConflict("Cannot delete the platform tenant", "the platform tenant holds the operators' clients")
	}
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteTenant(ctx, id); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, id, "tenant.delete", "tenant", id, nil))
	})
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("tenant")
	}
	if err != nil {
		return fmt.Errorf("delete tenant %s: %w", id, err)
	}
	return nil
}

// operatorOnTenant refuses a change to tenant id by anyone but an operator:
// 404 for a tenant the principal cannot see, 403 for its own.
func (a *API) operatorOnTenant(p Principal, id, what string) error {
	if !p.canSeeTenant(id) {
		return errNotFound("tenant")
	}
	if !p.IsOperator() {
		return errForbidden("only operators " + what)
	}
	return nil
}

// details encodes key/value pairs as the small JSON object of an audit
// event, skipping nil values and nil pointers. Callers never pass secrets.
func details(kv ...any) []byte {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		val := kv[i+1]
		if val == nil || val == "" {
			continue
		}
		if rv := reflect.ValueOf(val); rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				continue
			}
			val = rv.Elem().Interface()
		}
		m[k] = val
	}
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil // only plain values are passed; an audit event without details beats a failed change
	}
	return b
}

func (a *API) handleCreateTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req CreateTenantRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	t, err := a.CreateTenant(r.Context(), p, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+t.ID)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (a *API) handleListTenants(w http.ResponseWriter, r *http.Request, p Principal) error {
	ts, err := a.ListTenants(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TenantList{Tenants: nonNil(ts)})
	return nil
}

func (a *API) handleGetTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	t, err := a.GetTenant(r.Context(), p, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) handleUpdateTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	id := r.PathValue("tenant")
	if !p.canSeeTenant(id) { // before reading the body: no hint that the tenant exists
		return errNotFound("tenant")
	}
	var req UpdateTenantRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	t, err := a.UpdateTenant(r.Context(), p, id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) handleDeleteTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.DeleteTenant(r.Context(), p, r.PathValue("tenant")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
