package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
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
		if done, err := bootstrapped(ctx, tx); err != nil || done {
			return err
		}
		if err := lockBootstrap(ctx, tx, t); err != nil {
			return err
		}
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

// settingBootstrapLock names the settings row that every transaction
// creating what a first start creates (platform tenant, built-in scopes,
// console client, operator client) writes first. On a shared database the
// write takes a row lock held until commit, so instances starting together
// on a fresh database take turns, and each one's reads after the lock see
// what the previous holder committed: without it, two of three instances
// failed their start with a duplicate key. SQLite serialises writers anyway.
const settingBootstrapLock = "bootstrap.lock"

// lockBootstrap serialises first-start creations across instances until tx
// ends. Reads made before it may be stale and must be made again after it
// (PostgreSQL's READ COMMITTED takes a fresh snapshot per statement).
func lockBootstrap(ctx context.Context, tx store.Tx, now time.Time) error {
	if err := tx.PutSetting(ctx, settingBootstrapLock, []byte(now.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("lock bootstrap: %w", err)
	}
	return nil
}

// bootstrapped reports whether the platform tenant and every built-in
// scope exist already: the usual start, which then writes nothing.
func bootstrapped(ctx context.Context, tx store.Tx) (bool, error) {
	if _, err := tx.GetTenant(ctx, store.PlatformTenant); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("get platform tenant: %w", err)
	}
	for _, b := range builtinScopes {
		s, err := tx.GetScope(ctx, b.name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("get scope %s: %w", b.name, err)
		case !s.Builtin:
			return false, nil
		}
	}
	return true, nil
}

// EnsureOperator creates the platform operator's client, with its audit
// event, unless an operator client exists already; it returns nil then.
// The check and the creation happen under the bootstrap lock, so of
// several instances (or `keyshift init` and `serve`) starting together on
// a new store exactly one creates the operator and shows its secret.
func EnsureOperator(ctx context.Context, st store.Store, now func() time.Time) (*CreateClientResponse, error) {
	if now == nil {
		now = time.Now
	}
	a := &API{st: st, now: now}
	p := SystemPrincipal()
	req, err := validateClientCreate(CreateClientRequest{
		Name:    "keyshift operator",
		Scopes:  []string{oauth.ScopeAdmin},
		Contact: store.Contact{Login: "operator"},
	})
	if err != nil {
		return nil, fmt.Errorf("operator client: %w", err)
	}
	var out *CreateClientResponse
	err = st.Tx(ctx, func(tx store.Tx) error {
		out = nil
		t := a.clock()
		if err := lockBootstrap(ctx, tx, t); err != nil {
			return err
		}
		clients, err := tx.ListClients(ctx, store.PlatformTenant)
		if err != nil {
			return fmt.Errorf("list platform clients: %w", err)
		}
		for _, c := range clients {
			if c.ID != ConsoleClientID && slices.Contains(c.Scopes, oauth.ScopeAdmin) {
				return nil
			}
		}
		secret, c := newClientRecord(store.PlatformTenant, req, t)
		if err := a.createClientTx(ctx, tx, p, c, req); err != nil {
			return err
		}
		out = &CreateClientResponse{ClientView: NewClientView(c), ClientSecret: secret}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create operator client: %w", err)
	}
	return out, nil
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
		GrantTypes:             []string{oauth.GrantAuthorizationCode},
		Scopes:                 []string{oauth.ScopeAdmin, oauth.ScopeTenantAdmin},
		RedirectURIs:           []string{issuer + ConsoleRedirectPath},
		PostLogoutRedirectURIs: []string{issuer + "/console/"},
		AuthMethod:             oauth.AuthNone, Status: store.StatusActive,
	}
	upToDate := func(cur store.Client) bool {
		return slices.Equal(cur.RedirectURIs, want.RedirectURIs) && slices.Equal(cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs)
	}
	return st.Tx(ctx, func(tx store.Tx) error {
		t := a.clock()
		if cur, err := tx.GetClient(ctx, ConsoleClientID); err == nil && upToDate(cur) {
			return nil // the usual start: nothing to write, no lock to take
		}
		if err := lockBootstrap(ctx, tx, t); err != nil {
			return err
		}
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
		if upToDate(cur) {
			return nil // another instance repaired it meanwhile
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
