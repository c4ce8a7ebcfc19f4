// Package admin implements keyshift's admin JSON API under /admin/v1/. Its
// Go client, which the CLI uses, is package adminclient.
//
// Every operation exists once, as a method of API taking the acting Principal
// (CreateTenant, PutScope, CreateClient, …). The HTTP handlers decode a
// request, authenticate the bearer token and call these methods; the server's
// bootstrap calls the same methods with SystemPrincipal, so a seeded object
// goes through exactly the validation and auditing an API call does.
//
// Authorization has two levels: the scope keyshift:admin on a client of the
// platform tenant makes an operator (every tenant, the scope catalogue,
// signing keys); keyshift:tenant-admin reaches only the principal's own
// tenant, and any path naming another tenant answers 404 so that tenant
// names do not leak. Every change appends an audit event in the same store
// transaction as the change.
package admin

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/password"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
)

// Principal is the authenticated caller of an admin operation.
type Principal struct {
	Subject    string   // user login or client id
	ClientID   string   // OAuth client the token was issued to
	Tenant     string   // tenant of the subject
	Scopes     []string // granted scopes
	RemoteAddr string   // caller's address, for the audit trail
}

// IsOperator reports whether p administers the whole platform.
func (p Principal) IsOperator() bool {
	return p.Tenant == store.PlatformTenant && slices.Contains(p.Scopes, oauth.ScopeAdmin)
}

// IsTenantAdmin reports whether p administers its own tenant (and only it).
func (p Principal) IsTenantAdmin() bool {
	return p.Tenant != "" && slices.Contains(p.Scopes, oauth.ScopeTenantAdmin)
}

// canSeeTenant reports whether p may see objects of tenant at all.
func (p Principal) canSeeTenant(tenant string) bool {
	return p.IsOperator() || (p.IsTenantAdmin() && p.Tenant == tenant)
}

// actor names p in audit events.
func (p Principal) actor() string {
	if p.ClientID != "" {
		return p.ClientID
	}
	return p.Subject
}

// SystemPrincipal is keyshift itself, acting as an operator during bootstrap
// and seeding.
func SystemPrincipal() Principal {
	return Principal{Subject: "keyshift", Tenant: store.PlatformTenant, Scopes: []string{oauth.ScopeAdmin}}
}

// Authenticator validates a bearer token presented to the admin API.
type Authenticator interface {
	// Authenticate returns the principal of a valid token, or an error for
	// an invalid, expired or revoked one.
	Authenticate(ctx context.Context, bearer string) (Principal, error)
}

// Rotator rotates the signing keys (implemented by *signing.Keyring). It
// appends the given audit event in the transaction of the rotation.
type Rotator interface {
	Rotate(ctx context.Context, audit store.AuditEvent) error
}

// Config tunes the API. Zero values select the defaults.
type Config struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Sealer encrypts webhook secrets at rest; nil disables the webhook endpoints.
	Sealer *signing.Sealer
	// Passwords hashes user passwords (default: password.DefaultParams).
	Passwords *password.Hasher
	// PasswordPolicy judges the passwords admins set for users.
	PasswordPolicy password.Policy
}

// API is the admin API. It is safe for concurrent use.
type API struct {
	st      store.Store
	auth    Authenticator
	rot     Rotator
	now     func() time.Time
	log     *slog.Logger
	maxBody int64
	sealer  *signing.Sealer
	pw      *password.Hasher
	policy  password.Policy
}

// New returns an admin API over st. auth validates bearer tokens; rot may be
// nil, in which case signing-key rotation answers 501.
func New(st store.Store, auth Authenticator, rot Rotator, cfg Config) *API {
	a := &API{st: st, auth: auth, rot: rot, now: cfg.Now, log: cfg.Logger, maxBody: cfg.MaxBodyBytes, sealer: cfg.Sealer,
		pw: cfg.Passwords, policy: cfg.PasswordPolicy}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.maxBody <= 0 {
		a.maxBody = 1 << 20
	}
	if a.pw == nil {
		a.pw, _ = password.New(password.DefaultParams()) // valid by construction
	}
	return a
}

// clock returns the current time in UTC, truncated to microseconds so that
// values survive a round trip through every store backend unchanged.
func (a *API) clock() time.Time { return a.now().UTC().Truncate(time.Microsecond) }

// audit builds the audit event of a change made by p.
func (a *API) audit(p Principal, tenant, action, objType, objID string, details []byte) store.AuditEvent {
	return store.AuditEvent{
		Time:        a.clock(),
		Actor:       p.actor(),
		ActorTenant: p.Tenant,
		Tenant:      tenant,
		Action:      action,
		ObjectType:  objType,
		ObjectID:    objID,
		RemoteAddr:  hostOnly(p.RemoteAddr),
		Details:     details,
	}
}

func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
