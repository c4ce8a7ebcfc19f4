package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Bootstrap makes sure the platform tenant and the built-in scopes exist,
// creating what is missing in one transaction with its audit events. It is
// idempotent; created reports that the platform tenant was new, i.e. that
// the store was empty and the caller should issue the operator's client.
func Bootstrap(ctx context.Context, st store.Store, now func() time.Time) (created bool, err error) {
	if now == nil {
		now = time.Now
	}
	a := &API{now: now}
	p := SystemPrincipal()
	err = st.Tx(ctx, func(tx store.Tx) error {
		created = false
		t := a.clock()
		_, err := tx.GetTenant(ctx, store.PlatformTenant)
		switch {
		case errors.Is(err, store.ErrNotFound):
			created = true
			pt := store.Tenant{ID: store.PlatformTenant, Name: "Platform", Status: store.StatusActive, CreatedAt: t, UpdatedAt: t}
			if err := tx.CreateTenant(ctx, pt); err != nil {
				return fmt.Errorf("create platform tenant: %w", err)
			}
			if err := tx.AppendAudit(ctx, a.audit(p, pt.ID, "tenant.create", "tenant", pt.ID, details("name", pt.Name))); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("get platform tenant: %w", err)
		}
		for _, b := range builtinScopes {
			old, err := tx.GetScope(ctx, b.name)
			switch {
			case err == nil && old.Builtin:
				continue
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("get scope %s: %w", b.name, err)
			}
			s := store.Scope{Name: b.name, Description: b.description, Permissions: []string{}, Builtin: true, CreatedAt: t, UpdatedAt: t}
			if err := tx.PutScope(ctx, s); err != nil {
				return fmt.Errorf("put scope %s: %w", b.name, err)
			}
			if err := tx.AppendAudit(ctx, a.audit(p, "", "scope.create", "scope", b.name, details("builtin", true))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	return created, nil
}
