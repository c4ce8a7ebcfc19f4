package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyshift/keyshift/internal/store"
)

// querier is what reads need: the pool outside a transaction, the
// transaction inside one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reader implements store.Reader and store.KeyReader over a querier.
type reader struct{ q querier }

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// getOne runs a single-row query and decodes it, mapping no row to ErrNotFound.
func getOne[T any](ctx context.Context, q querier, what, id string,
	scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := q.Query(ctx, query, args...)
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

// where builds a conjunction of optional conditions with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends cond, in which "?" stands for the next parameter, when ok.
func (w *where) add(ok bool, cond string, arg any) {
	if ok {
		w.args = append(w.args, arg)
		w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// next returns the placeholder of the parameter after the conditions'.
func (w *where) next() string { return "$" + strconv.Itoa(len(w.args)+1) }

// nilIfEmpty returns nil for an empty slice so records read back equal to
// what was written with nil slices.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

const tenantCols = `id, name, status, created_at, updated_at`

func scanTenant(sc scanner) (store.Tenant, error) {
	var t store.Tenant
	err := sc.Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

func (r reader) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	return getOne(ctx, r.q, "tenant", id, scanTenant,
		`SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id)
}

func (r reader) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	return list(ctx, r.q, "tenants", scanTenant,
		`SELECT `+tenantCols+` FROM tenants ORDER BY id`)
}

const scopeCols = `name, description, permissions, builtin, created_at, updated_at`

func scanScope(sc scanner) (store.Scope, error) {
	var s store.Scope
	err := sc.Scan(&s.Name, &s.Description, &s.Permissions, &s.Builtin, &s.CreatedAt, &s.UpdatedAt)
	s.Permissions = nilIfEmpty(s.Permissions)
	return s, err
}

func (r reader) GetScope(ctx context.Context, name string) (store.Scope, error) {
	return getOne(ctx, r.q, "scope", name, scanScope,
		`SELECT `+scopeCols+` FROM scopes WHERE name = $1`, name)
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
	var secrets []storedSecret
	var ttl int64
	err := sc.Scan(&c.ID, &c.Tenant, &c.Name, &c.Contact.Login, &c.Contact.FirstName,
		&c.Contact.LastName, &c.Contact.Email, &c.GrantTypes, &c.Scopes, &c.RedirectURIs,
		&c.AuthMethod, &secrets, &ttl, &c.Status, &c.ConvertedFromKey, &c.CreatedAt, &c.UpdatedAt,
		&c.JWKS, &c.JWKSURI, &c.IDTokenAlg, &c.PostLogoutRedirectURIs)
	if err != nil {
		return c, err
	}
	c.GrantTypes, c.Scopes, c.RedirectURIs = nilIfEmpty(c.GrantTypes), nilIfEmpty(c.Scopes),
		nilIfEmpty(c.RedirectURIs)
	c.PostLogoutRedirectURIs, c.JWKS = nilIfEmpty(c.PostLogoutRedirectURIs), nilIfEmpty(c.JWKS)
	c.Secrets = decodeSecrets(secrets)
	c.AccessTokenTTL = time.Duration(ttl)
	return c, nil
}

func (r reader) GetClient(ctx context.Context, id string) (store.Client, error) {
	return getOne(ctx, r.q, "client", id, scanClient,
		`SELECT `+clientCols+` FROM clients WHERE id = $1`, id)
}

func (r reader) ListClients(ctx context.Context, tenant string) ([]store.Client, error) {
	if tenant == "" {
		return list(ctx, r.q, "clients", scanClient,
			`SELECT `+clientCols+` FROM clients ORDER BY tenant, id`)
	}
	return list(ctx, r.q, "clients", scanClient,
		`SELECT `+clientCols+` FROM clients WHERE tenant = $1 ORDER BY id`, tenant)
}

const keyCols = `kid, alg, use, state, public_jwk, private_sealed, created_at,
	activate_at, retired_at, publish_until`

func scanKey(sc scanner) (store.SigningKey, error) {
	var k store.SigningKey
	err := sc.Scan(&k.ID, &k.Alg, &k.Use, &k.State, &k.PublicJWK, &k.PrivateSealed,
		&k.CreatedAt, &k.ActivateAt, &k.RetiredAt, &k.PublishUntil)
	k.PublicJWK, k.PrivateSealed = nilIfEmpty(k.PublicJWK), nilIfEmpty(k.PrivateSealed)
	return k, err
}

func (r reader) GetSigningKey(ctx context.Context, kid string) (store.SigningKey, error) {
	return getOne(ctx, r.q, "signing key", kid, scanKey,
		`SELECT `+keyCols+` FROM signing_keys WHERE kid = $1`, kid)
}

func (r reader) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return list(ctx, r.q, "signing keys", scanKey,
		`SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, kid`)
}

const revocationCols = `jti, tenant, client_id, revoked_at, expires_at`

func scanRevocation(sc scanner) (store.Revocation, error) {
	var rv store.Revocation
	err := sc.Scan(&rv.JTI, &rv.Tenant, &rv.ClientID, &rv.RevokedAt, &rv.ExpiresAt)
	return rv, err
}

func (r reader) GetRevocation(ctx context.Context, jti string) (store.Revocation, error) {
	return getOne(ctx, r.q, "revocation", jti, scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE jti = $1`, jti)
}

func (r reader) ListRevocations(ctx context.Context, now time.Time) ([]store.Revocation, error) {
	return list(ctx, r.q, "revocations", scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE expires_at > $1 ORDER BY expires_at, jti`,
		now)
}

const auditCols = `id, time, actor, actor_tenant, tenant, action, object_type, object_id,
	remote_addr, details`

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	err := sc.Scan(&e.ID, &e.Time, &e.Actor, &e.ActorTenant, &e.Tenant, &e.Action,
		&e.ObjectType, &e.ObjectID, &e.RemoteAddr, &e.Details)
	return e, err
}

// defaultAuditLimit is the page size when AuditFilter.Limit is 0.
const defaultAuditLimit = 100

func (r reader) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.Action != "", "action = ?", f.Action)
	w.add(f.ObjectID != "", "object_id = ?", f.ObjectID)
	w.add(!f.Before.IsZero(), "time < ?", f.Before)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	query := `SELECT ` + auditCols + ` FROM audit_events` + w.sql() +
		` ORDER BY time DESC, seq DESC LIMIT ` + w.next()
	return list(ctx, r.q, "audit events", scanAudit, query, append(w.args, limit)...)
}
