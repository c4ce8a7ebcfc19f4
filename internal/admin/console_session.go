package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// ConsoleVisit is a person signed in at the console: their session, their
// live user record and the admin rights derived from it.
type ConsoleVisit struct {
	Session   store.Session
	User      store.User
	Principal Principal
}

// StartConsoleSession starts a console session of ttl for the user whose
// ID token the console has just verified, and returns the cookie value
// (only its hash is stored) and the user.
func (a *API) StartConsoleSession(ctx context.Context, userID string, ttl time.Duration) (string, store.User, error) {
	u, err := a.st.GetUser(ctx, userID)
	if err != nil {
		return "", store.User{}, fmt.Errorf("console: load user: %w", err)
	}
	now := a.now().UTC()
	value := rand.Text() + rand.Text()
	h := sha256.Sum256([]byte(value))
	sess := store.Session{Hash: h[:], ID: rand.Text(), Tenant: u.Tenant, UserID: u.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := a.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateSession(ctx, sess) }); err != nil {
		return "", store.User{}, fmt.Errorf("console: create session: %w", err)
	}
	return value, u, nil
}

// ConsoleSession loads the console session of cookie value, checked live on
// every request: nil (sign in again) when it is unknown or expired, its user
// is gone or disabled or changed password since signing in, or the user's
// tenant is not active. remoteAddr goes into the principal's audit trail.
func (a *API) ConsoleSession(ctx context.Context, value, remoteAddr string) (*ConsoleVisit, error) {
	h := sha256.Sum256([]byte(value))
	sess, err := a.st.GetSession(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !a.now().UTC().Before(sess.ExpiresAt) {
		return nil, nil
	}
	u, err := a.st.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled || u.PasswordChangedAt.After(sess.AuthTime) {
		return nil, nil
	}
	t, err := a.st.GetTenant(ctx, u.Tenant)
	if err != nil || t.Status != store.StatusActive {
		return nil, nil
	}
	return &ConsoleVisit{Session: sess, User: u, Principal: ConsolePrincipal(u, remoteAddr)}, nil
}

// EndConsoleSession deletes the console session whose hash is given; a
// session already gone is not an error.
func (a *API) EndConsoleSession(ctx context.Context, hash []byte) error {
	err := a.st.Tx(ctx, func(tx store.Tx) error { return tx.DeleteSession(ctx, hash) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// ConsolePrincipal derives a console user's admin rights from their live
// roles: the admin role makes a tenant admin, and an admin of the platform
// tenant an operator too. A role taken away counts from the next request.
func ConsolePrincipal(u store.User, remoteAddr string) Principal {
	p := Principal{Subject: u.Login, ClientID: ConsoleClientID, Tenant: u.Tenant, RemoteAddr: remoteAddr}
	if slices.Contains(u.Roles, store.RoleAdmin) {
		p.Scopes = append(p.Scopes, oauth.ScopeTenantAdmin)
		if u.Tenant == store.PlatformTenant {
			p.Scopes = append(p.Scopes, oauth.ScopeAdmin)
		}
	}
	return p
}
