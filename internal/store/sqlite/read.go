package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// querier is what reads need: the read pool outside a transaction, the
// transaction inside one.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements store.Reader over a querier.
type reader struct{ q querier }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// getOne runs a single-row query and decodes it, mapping no row to ErrNotFound.
func getOne[T any](ctx context.Context, q querier, what, id string,
	scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("get %s %q: %w", what, id, mapErr(err))
	}
	return v, nil
}

// list runs a query and decodes every row; it never returns a nil slice.
func list[T any](ctx context.Context, q querier, what string,
	scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, mapErr(err))
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, mapErr(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, mapErr(err))
	}
	return out, nil
}

const tenantCols = `id, name, status, created_at, updated_at`

func scanTenant(sc scanner) (store.Tenant, error) {
	var t store.Tenant
	var created, updated string
	if err := sc.Scan(&t.ID, &t.Name, &t.Status, &created, &updated); err != nil {
		return t, err
	}
	var d decoder
	t.CreatedAt, t.UpdatedAt = d.time(created), d.time(updated)
	return t, d.err
}

func (r reader) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	return getOne(ctx, r.q, "tenant", id, scanTenant,
		`SELECT `+tenantCols+` FROM tenants WHERE id = ?`, id)
}

func (r reader) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	return list(ctx, r.q, "tenants", scanTenant,
		`SELECT `+tenantCols+` FROM tenants ORDER BY id`)
}

const scopeCols = `name, description, permissions, builtin, created_at, updated_at`

func scanScope(sc scanner) (store.Scope, error) {
	var s store.Scope
	var perms, created, updated string
	if err := sc.Scan(&s.Name, &s.Description, &perms, &s.Builtin, &created, &updated); err != nil {
		return s, err
	}
	var d decoder
	s.Permissions = d.strings(perms)
	s.CreatedAt, s.UpdatedAt = d.time(created), d.time(updated)
	return s, d.err
}

func (r reader) GetScope(ctx context.Context, name string) (store.Scope, error) {
	return getOne(ctx, r.q, "scope", name, scanScope,
		`SELECT `+scopeCols+` FROM scopes WHERE name = ?`, name)
}

func (r reader) ListScopes(ctx context.Context) ([]store.Scope, error) {
	return list(ctx, r.q, "scopes", scanScope,
		`SELECT `+scopeCols+` FROM scopes ORDER BY name`)
}

const clientCols = `id, tenant, name, contact_login, contact_first_name, contact_last_name,
	contact_email, grant_types, scopes, redirect_uris, auth_method, secrets,
	access_token_ttl, status, converted_from_key, created_at, updated_at, jwks, jwks_uri,
	id_token_alg, post_logout_redirect_uris`

func scanClient(sc scanner) (store.Client, error) {
	var c store.Client
	var grants, scopes, redirects, secrets, created, updated, logoutURIs string
	var ttl int64
	err := sc.Scan(&c.ID, &c.Tenant, &c.Name, &c.Contact.Login, &c.Contact.FirstName,
		&c.Contact.LastName, &c.Contact.Email, &grants, &scopes, &redirects, &c.AuthMethod,
		&secrets, &ttl, &c.Status, &c.ConvertedFromKey, &created, &updated, &c.JWKS, &c.JWKSURI,
		&c.IDTokenAlg, &logoutURIs)
	if err != nil {
		return c, err
	}
	var d decoder
	c.GrantTypes, c.Scopes, c.RedirectURIs = d.strings(grants), d.strings(scopes), d.strings(redirects)
	c.PostLogoutRedirectURIs, c.JWKS = d.strings(logoutURIs), bytesOrNil(c.JWKS)
	c.Secrets = decodeSecrets(&d, secrets)
	c.AccessTokenTTL = time.Duration(ttl)
	c.CreatedAt, c.UpdatedAt = d.time(created), d.time(updated)
	return c, d.err
}

func (r reader) GetClient(ctx context.Context, id string) (store.Client, error) {
	return getOne(ctx, r.q, "client", id, scanClient,
		`SELECT `+clientCols+` FROM clients WHERE id = ?`, id)
}

func (r reader) ListClients(ctx context.Context, tenant string) ([]store.Client, error) {
	if tenant == "" {
		return list(ctx, r.q, "clients", scanClient,
			`SELECT `+clientCols+` FROM clients ORDER BY tenant, id`)
	}
	return list(ctx, r.q, "clients", scanClient,
		`SELECT `+clientCols+` FROM clients WHERE tenant = ? ORDER BY id`, tenant)
}

const keyCols = `kid, alg, use, state, public_jwk, private_sealed, created_at,
	activate_at, retired_at, publish_until`

func scanKey(sc scanner) (store.SigningKey, error) {
	var k store.SigningKey
	var created, activate, retired, publish string
	err := sc.Scan(&k.ID, &k.Alg, &k.Use, &k.State, &k.PublicJWK, &k.PrivateSealed,
		&created, &activate, &retired, &publish)
	if err != nil {
		return k, err
	}
	var d decoder
	k.CreatedAt, k.ActivateAt = d.time(created), d.time(activate)
	k.RetiredAt, k.PublishUntil = d.time(retired), d.time(publish)
	return k, d.err
}

func (r reader) GetSigningKey(ctx context.Context, kid string) (store.SigningKey, error) {
	return getOne(ctx, r.q, "signing key", kid, scanKey,
		`SELECT `+keyCols+` FROM signing_keys WHERE kid = ?`, kid)
}

func (r reader) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return list(ctx, r.q, "signing keys", scanKey,
		`SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, kid`)
}

const revocationCols = `jti, tenant, client_id, revoked_at, expires_at`

func scanRevocation(sc scanner) (store.Revocation, error) {
	var rv store.Revocation
	var revoked, expires string
	if err := sc.Scan(&rv.JTI, &rv.Tenant, &rv.ClientID, &revoked, &expires); err != nil {
		return rv, err
	}
	var d decoder
	rv.RevokedAt, rv.ExpiresAt = d.time(revoked), d.time(expires)
	return rv, d.err
}

func (r reader) GetRevocation(ctx context.Context, jti string) (store.Revocation, error) {
	return getOne(ctx, r.q, "revocation", jti, scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE jti = ?`, jti)
}

func (r reader) ListRevocations(ctx context.Context, now time.Time) ([]store.Revocation, error) {
	return list(ctx, r.q, "revocations", scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE expires_at > ? ORDER BY expires_at, jti`,
		fmtTime(now))
}

const auditCols = `id, time, actor, actor_tenant, tenant, action, object_type, object_id,
	remote_addr, details`

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	var at string
	err := sc.Scan(&e.ID, &at, &e.Actor, &e.ActorTenant, &e.Tenant, &e.Action,
		&e.ObjectType, &e.ObjectID, &e.RemoteAddr, &e.Details)
	if err != nil {
		return e, err
	}
	var d decoder
	e.Time = d.time(at)
	return e, d.err
}

// defaultAuditLimit is the page size when AuditFilter.Limit is 0.
const defaultAuditLimit = 100

func (r reader) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if !f.Before.IsZero() {
		add("time < ?", fmtTime(f.Before))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	query := `SELECT ` + auditCols + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY time DESC, rowid DESC LIMIT ?`
	return list(ctx, r.q, "audit events", scanAudit, query, append(args, limit)...)
}
