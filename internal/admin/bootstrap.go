package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// ConsoleClientID is the web console's OAuth client, of the platform
// tenant: a public client of the code flow with PKCE, since the console
// runs inside keyshift and holds no secret worth having.
const ConsoleClientID = "keyshift-console"

// ConsoleRedirectPath is where the console receives authorization codes.
const ConsoleRedirectPath = "/console/callback"

// EnsureConsoleClient creates or repairs the console's client for issuer
// (its redirect URI follows the issuer), with an audit event for any change.
func EnsureConsoleClient(ctx context.Context, st store.Store, issuer string, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	a := &API{now: now}
	p := SystemPrincipal()
	want := store.Client{
		ID: ConsoleClientID, Tenant: store.PlatformTenant, Name: "keyshift console",
		GrantTypes:             []string{GrantAuthorizationCode},
		Scopes:                 []string{ScopeAdmin, ScopeTenantAdmin},
		RedirectURIs:           []string{issuer + ConsoleRedirectPath},
		PostLogoutRedirectURIs: []string{issuer + "/console/"},
		AuthMethod:             "none", Status: store.StatusActive,
	}
	return st.Tx(ctx, func(tx store.Tx) error {
		t := a.clock()
		cur, err := tx.GetClient(ctx, ConsoleClientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			want.CreatedAt, want.UpdatedAt = t, t
			if err := tx.CreateClient(ctx, want); err != nil {
				return fmt.Errorf("create console client: %w", err)
			}
			return tx.AppendAudit(ctx, a.audit(p, store.PlatformTenant, "client.create", "client", ConsoleClientID, details("redirect_uris", want.RedirectURIs)))
		case err != nil:
			return fmt.Errorf("get console client: %w", err)
		}
		if slices.Equal(cur.RedirectURIs, want.RedirectURIs) && slices.Equal(cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) {
			return nil
		}
		if err := tx.UpdateClient(ctx, ConsoleClientID, func(c store.Client) (store.Client, error) {
			c.RedirectURIs, c.PostLogoutRedirectURIs, c.UpdatedAt = want.RedirectURIs, want.PostLogoutRedirectURIs, t
			return c, nil
		}); err != nil {
			return fmt.Errorf("update console client: %w", err)
		}
		return tx.AppendAudit(ctx, a.audit(p, store.PlatformTenant, "client.update", "client", ConsoleClientID, details("redirect_uris", want.RedirectURIs)))
	})
}
