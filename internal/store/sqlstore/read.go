package sqlstore

import (
	"context"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Reader implements the store's reads over a Querier.
type Reader struct {
	q Querier
	d Dialect
}

// NewReader returns the reads of q under dialect d.
func NewReader(q Querier, d Dialect) Reader { return Reader{q: q, d: d} }

const tenantCols = `id, name, status, created_at, updated_at`

func scanTenant(d Dialect, sc Row) (store.Tenant, error) {
	var t store.Tenant
	err := sc.Scan(&t.ID, &t.Name, &t.Status, d.TimeDest(&t.CreatedAt), d.TimeDest(&t.UpdatedAt))
	return t, err
}

// GetTenant implements store.Reader.
func (r Reader) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	return getOne(ctx, r.q, r.d, "tenant", id, scanTenant,
		`SELECT `+tenantCols+` FROM tenants WHERE id = ?`, id)
}

// ListTenants implements store.Reader.
func (r Reader) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	return list(ctx, r.q, r.d, "tenants", scanTenant,
		`SELECT `+tenantCols+` FROM tenants ORDER BY id`)
}

const scopeCols = `name, description, permissions, builtin, created_at, updated_at`

func scanScope(d Dialect, sc Row) (store.Scope, error) {
	var s store.Scope
	err := sc.Scan(&s.Name, &s.Description, d.StringsDest(&s.Permissions), &s.Builtin,
		d.TimeDest(&s.CreatedAt), d.TimeDest(&s.UpdatedAt))
	s.Permissions = nilIfEmpty(s.Permissions)
	return s, err
}

// GetScope implements store.Reader.
func (r Reader) GetScope(ctx context.Context, name string) (store.Scope, error) {
	return getOne(ctx, r.q, r.d, "scope", name, scanScope,
		`SELECT `+scopeCols+` FROM scopes WHERE name = ?`, name)
}

// ListScopes implements store.Reader.
func (r Reader) ListScopes(ctx context.Context) ([]store.Scope, error) {
	return list(ctx, r.q, r.d, "scopes", scanScope,
		`SELECT `+scopeCols+` FROM scopes ORDER BY name`)
}

const clientCols = `id, tenant, name, contact_login, contact_first_name, contact_last_name,
	contact_email, grant_types, scopes, redirect_uris, auth_method, secrets,
	access_token_ttl, status, converted_from_key, created_at, updated_at, jwks, jwks_uri,
	id_token_alg, post_logout_redirect_uris`

func scanClient(d Dialect, sc Row) (store.Client, error) {
	var c store.Client
	var secrets []storedSecret
	var ttl int64
	err := sc.Scan(&c.ID, &c.Tenant, &c.Name, &c.Contact.Login, &c.Contact.FirstName,
		&c.Contact.LastName, &c.Contact.Email, d.StringsDest(&c.GrantTypes),
		d.StringsDest(&c.Scopes), d.StringsDest(&c.RedirectURIs), &c.AuthMethod,
		d.JSONDest(&secrets), &ttl, &c.Status, &c.ConvertedFromKey,
		d.TimeDest(&c.CreatedAt), d.TimeDest(&c.UpdatedAt), &c.JWKS, &c.JWKSURI,
		&c.IDTokenAlg, d.StringsDest(&c.PostLogoutRedirectURIs))
	if err != nil {
		return c, err
	}
	c.GrantTypes, c.Scopes = nilIfEmpty(c.GrantTypes), nilIfEmpty(c.Scopes)
	c.RedirectURIs, c.PostLogoutRedirectURIs = nilIfEmpty(c.RedirectURIs), nilIfEmpty(c.PostLogoutRedirectURIs)
	c.JWKS = nilIfEmpty(c.JWKS)
	c.Secrets = decodeSecrets(secrets)
	c.AccessTokenTTL = time.Duration(ttl)
	return c, nil
}

// GetClient implements store.Reader.
func (r Reader) GetClient(ctx context.Context, id string) (store.Client, error) {
	return getOne(ctx, r.q, r.d, "client", id, scanClient,
		`SELECT `+clientCols+` FROM clients WHERE id = ?`, id)
}

// ListClients implements store.Reader.
func (r Reader) ListClients(ctx context.Context, tenant string) ([]store.Client, error) {
	if tenant == "" {
		return list(ctx, r.q, r.d, "clients", scanClient,
			`SELECT `+clientCols+` FROM clients ORDER BY tenant, id`)
	}
	return list(ctx, r.q, r.d, "clients", scanClient,
		`SELECT `+clientCols+` FROM clients WHERE tenant = ? ORDER BY id`, tenant)
}

const keyCols = `kid, alg, use, state, public_jwk, private_sealed, created_at,
	activate_at, retired_at, publish_until`

func scanKey(d Dialect, sc Row) (store.SigningKey, error) {
	var k store.SigningKey
	err := sc.Scan(&k.ID, &k.Alg, &k.Use, &k.State, &k.PublicJWK, &k.PrivateSealed,
		d.TimeDest(&k.CreatedAt), d.TimeDest(&k.ActivateAt), d.TimeDest(&k.RetiredAt),
		d.TimeDest(&k.PublishUntil))
	k.PublicJWK, k.PrivateSealed = nilIfEmpty(k.PublicJWK), nilIfEmpty(k.PrivateSealed)
	return k, err
}

// GetSigningKey implements store.Reader.
func (r Reader) GetSigningKey(ctx context.Context, kid string) (store.SigningKey, error) {
	return getOne(ctx, r.q, r.d, "signing key", kid, scanKey,
		`SELECT `+keyCols+` FROM signing_keys WHERE kid = ?`, kid)
}

// ListSigningKeys implements store.Reader.
func (r Reader) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return list(ctx, r.q, r.d, "signing keys", scanKey,
		`SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, kid`)
}

const revocationCols = `jti, tenant, client_id, revoked_at, expires_at`

func scanRevocation(d Dialect, sc Row) (store.Revocation, error) {
	var rv store.Revocation
	err := sc.Scan(&rv.JTI, &rv.Tenant, &rv.ClientID, d.TimeDest(&rv.RevokedAt), d.TimeDest(&rv.ExpiresAt))
	return rv, err
}

// GetRevocation implements store.Reader.
func (r Reader) GetRevocation(ctx context.Context, jti string) (store.Revocation, error) {
	return getOne(ctx, r.q, r.d, "revocation", jti, scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE jti = ?`, jti)
}

// ListRevocations implements store.Reader.
func (r Reader) ListRevocations(ctx context.Context, now time.Time) ([]store.Revocation, error) {
	return list(ctx, r.q, r.d, "revocations", scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE expires_at > ? ORDER BY expires_at, jti`,
		r.d.Time(now))
}

const auditCols = `id, time, actor, actor_tenant, tenant, action, object_type, object_id,
	remote_addr, details`

func scanAudit(d Dialect, sc Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	err := sc.Scan(&e.ID, d.TimeDest(&e.Time), &e.Actor, &e.ActorTenant, &e.Tenant, &e.Action,
		&e.ObjectType, &e.ObjectID, &e.RemoteAddr, &e.Details)
	return e, err
}

// defaultAuditLimit is the page size when AuditFilter.Limit is 0.
const defaultAuditLimit = 100

// ListAudit implements store.Reader.
func (r Reader) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.Action != "", "action = ?", f.Action)
	w.add(f.ObjectID != "", "object_id = ?", f.ObjectID)
	w.add(!f.Before.IsZero(), "time < ?", r.d.Time(f.Before))
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	query := `SELECT ` + auditCols + ` FROM audit_events` + w.sql() +
		` ORDER BY time DESC, ` + r.d.InsertOrder() + ` DESC LIMIT ?`
	return list(ctx, r.q, r.d, "audit events", scanAudit, query, append(w.args, limit)...)
}
