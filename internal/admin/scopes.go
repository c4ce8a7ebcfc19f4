package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/keyshift/keyshift/internal/store"
)

// PutScopeRequest is the body of PUT /admin/v1/scopes/{name}.
type PutScopeRequest struct {
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// ScopeList is the answer of GET /admin/v1/scopes.
type ScopeList struct {
	Scopes []store.Scope `json:"scopes"`
}

// ListScopes returns the scope catalogue; every admin may read it.
func (a *API) ListScopes(ctx context.Context, _ Principal) ([]store.Scope, error) {
	ss, err := a.st.ListScopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	for i := range ss {
		ss[i].Permissions = nonNil(ss[i].Permissions)
	}
	return ss, nil
}

// PutScope creates or replaces a catalogue scope (operators only). Built-in
// scopes cannot be edited.
func (a *API) PutScope(ctx context.Context, p Principal, name string, req PutScopeRequest) (store.Scope, error) {
	if !p.IsOperator() {
		return store.Scope{}, errForbidden("only operators edit the scope catalogue")
	}
	if isBuiltinScope(name) {
		return store.Scope{}, errConflict("Built-in scope", fmt.Sprintf("scope %q is built in and cannot be edited", name))
	}
	if err := validateScope(name, req); err != nil {
		return store.Scope{}, err
	}
	now := a.clock()
	s := store.Scope{Name: name, Description: req.Description, Permissions: nonNil(req.Permissions), CreatedAt: now, UpdatedAt: now}
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		action := "scope.create"
		old, err := tx.GetScope(ctx, name)
		switch {
		case err == nil && old.Builtin:
			return errConflict("Built-in scope", fmt.Sprintf("scope %q is built in and cannot be edited", name))
		case err == nil:
			action = "scope.update"
			s.CreatedAt = old.CreatedAt
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.PutScope(ctx, s); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, "", action, "scope", name,
			details("description", s.Description, "permissions", s.Permissions)))
	})
	if err != nil {
		return store.Scope{}, fmt.Errorf("put scope %s: %w", name, err)
	}
	return s, nil
}

func validateScope(name string, req PutScopeRequest) error {
	var v validation
	if strings.HasPrefix(name, "keyshift:") {
		v.add("name", "the keyshift: prefix is reserved for built-in scopes")
	} else if msg := checkScopeName(name); msg != "" {
		v.add("name", msg)
	}
	checkText(&v, "description", req.Description, maxDescriptionLen, false)
	if len(req.Permissions) > maxListLen {
		v.add("permissions", "too many permissions")
	}
	for i, perm := range req.Permissions {
		if !permissionPattern.MatchString(perm) {
			v.add(fmt.Sprintf("permissions[%d]", i), "must be object:action in lowercase letters, digits or underscores")
		}
	}
	if hasDuplicates(req.Permissions) {
		v.add("permissions", "must not repeat a permission")
	}
	return v.err()
}

func (a *API) handleListScopes(w http.ResponseWriter, r *http.Request, p Principal) error {
	ss, err := a.ListScopes(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ScopeList{Scopes: nonNil(ss)})
	return nil
}

func (a *API) handlePutScope(w http.ResponseWriter, r *http.Request, p Principal) error {
	if !p.IsOperator() {
		return errForbidden("only operators edit the scope catalogue")
	}
	var req PutScopeRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	s, err := a.PutScope(r.Context(), p, r.PathValue("name"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}
