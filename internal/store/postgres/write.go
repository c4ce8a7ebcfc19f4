package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
)

// tx implements store.Tx. It records the changes it makes so that Store.Tx
// can announce them with the commit.
type tx struct {
	reader
	tx      pgx.Tx
	now     func() time.Time
	changes []store.Change
}

var _ store.Tx = (*tx)(nil)

func (t *tx) changed(kind store.ChangeKind, id, tenant string) {
	t.changes = append(t.changes, store.Change{Kind: kind, ID: id, Tenant: tenant})
}

// exec runs a write and reports whether it touched a row.
func (t *tx) exec(ctx context.Context, query string, args ...any) (bool, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() > 0, nil
}

// stamp fills zero creation and update times from the clock.
func (t *tx) stamp(created, updated *time.Time) {
	if created.IsZero() {
		*created = t.now()
	}
	if updated.IsZero() {
		*updated = *created
	}
}

// restamp moves the update time to now when fn left it unchanged.
func (t *tx) restamp(old time.Time, updated *time.Time) {
	if updated.Equal(old) {
		*updated = t.now()
	}
}

// deleteReturning runs a DELETE … RETURNING of one text column and reports
// ErrNotFound when no row went.
func (t *tx) deleteReturning(ctx context.Context, what, id, query string) (string, error) {
	var out string
	err := t.tx.QueryRow(ctx, query, id).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("delete %s %q: %w", what, id, mapErr(err))
	}
	return out, nil
}

func errIDChanged(what, from, to string) error {
	return fmt.Errorf("update %s %q: id changed to %q", what, from, to)
}

// strs stores nil as an empty array in NOT NULL columns.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// blob stores nil as empty bytes in NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (t *tx) CreateTenant(ctx context.Context, v store.Tenant) error {
	t.stamp(&v.CreatedAt, &v.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5)`,
		v.ID, v.Name, v.Status, v.CreatedAt, v.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", v.ID, err)
	}
	t.changed(store.ChangeTenant, v.ID, v.ID)
	return nil
}

func (t *tx) UpdateTenant(ctx context.Context, id string, fn func(store.Tenant) (store.Tenant, error)) error {
	old, err := getOne(ctx, t.q, "tenant", id, scanTenant,
		`SELECT `+tenantCols+` FROM tenants WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return err
	}
	v, err := fn(old)
	if err != nil {
		return err
	}
	if v.ID != id {
		return errIDChanged("tenant", id, v.ID)
	}
	t.restamp(old.UpdatedAt, &v.UpdatedAt)
	_, err = t.exec(ctx, `UPDATE tenants SET name = $1, status = $2, created_at = $3,
		updated_at = $4 WHERE id = $5`, v.Name, v.Status, v.CreatedAt, v.UpdatedAt, id)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", id, err)
	}
	t.changed(store.ChangeTenant, id, id)
	return nil
}

// DeleteTenant locks the tenant first: inserting a client or key for it
// takes a key-share lock on the tenant row, so none can slip in between the
// deletion of its children (whose ids are announced) and its own.
func (t *tx) DeleteTenant(ctx context.Context, id string) error {
	if _, err := getOne(ctx, t.q, "tenant", id, scanString,
		`SELECT id FROM tenants WHERE id = $1 FOR UPDATE`, id); err != nil {
		return err
	}
	clients, err := list(ctx, t.q, "clients", scanString,
		`DELETE FROM clients WHERE tenant = $1 RETURNING id`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	keys, err := list(ctx, t.q, "api keys", scanString,
		`DELETE FROM api_keys WHERE tenant = $1 RETURNING id`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	users, err := list(ctx, t.q, "users", scanString,
		`DELETE FROM users WHERE tenant = $1 RETURNING id`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	if _, err := t.exec(ctx, `DELETE FROM tenants WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	for _, c := range clients {
		t.changed(store.ChangeClient, c, id)
	}
	for _, k := range keys {
		t.changed(store.ChangeAPIKey, k, id)
	}
	for _, u := range users {
		t.changed(store.ChangeUser, u, id)
	}
	t.changed(store.ChangeTenant, id, id)
	return nil
}

func scanString(sc scanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

func (t *tx) PutScope(ctx context.Context, s store.Scope) error {
	t.stamp(&s.CreatedAt, &s.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO scopes (`+scopeCols+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
			permissions = EXCLUDED.permissions, builtin = EXCLUDED.builtin,
			updated_at = EXCLUDED.updated_at`,
		s.Name, s.Description, strs(s.Permissions), s.Builtin, s.CreatedAt, s.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	t.changed(store.ChangeScope, s.Name, "")
	return nil
}

func (t *tx) DeleteScope(ctx context.Context, name string) error {
	ok, err := t.exec(ctx, `DELETE FROM scopes WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete scope %q: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("scope %q: %w", name, store.ErrNotFound)
	}
	t.changed(store.ChangeScope, name, "")
	return nil
}

// clientArgs returns a client's columns in clientCols order.
func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Tenant, c.Name, c.Contact.Login, c.Contact.FirstName,
		c.Contact.LastName, c.Contact.Email, strs(c.GrantTypes), strs(c.Scopes),
		strs(c.RedirectURIs), c.AuthMethod, encodeSecrets(c.Secrets),
		int64(c.AccessTokenTTL), c.Status, c.ConvertedFromKey, c.CreatedAt, c.UpdatedAt,
		blob(c.JWKS), c.JWKSURI, c.IDTokenAlg, strs(c.PostLogoutRedirectURIs)}
}

// clientWriteErr explains a failed client write; a foreign key failure means
// the tenant does not exist.
func clientWriteErr(op string, c store.Client, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s client %q: tenant %q: %w", op, c.ID, c.Tenant, store.ErrNotFound)
	}
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%s client %q: contact login %q already used in tenant %q: %w",
			op, c.ID, c.Contact.Login, c.Tenant, store.ErrConflict)
	}
	return fmt.Errorf("%s client %q: %w", op, c.ID, err)
}

func (t *tx) CreateClient(ctx context.Context, c store.Client) error {
	t.stamp(&c.CreatedAt, &c.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18, $19, $20, $21)`,
		clientArgs(c)...)
	if err != nil {
		return clientWriteErr("create", c, err)
	}
	t.changed(store.ChangeClient, c.ID, c.Tenant)
	return nil
}

func (t *tx) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error)) error {
	old, err := getOne(ctx, t.q, "client", id, scanClient,
		`SELECT `+clientCols+` FROM clients WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return err
	}
	c, err := fn(old)
	if err != nil {
		return err
	}
	if c.ID != id {
		return errIDChanged("client", id, c.ID)
	}
	t.restamp(old.UpdatedAt, &c.UpdatedAt)
	_, err = t.exec(ctx, `UPDATE clients SET tenant = $2, name = $3, contact_login = $4,
		contact_first_name = $5, contact_last_name = $6, contact_email = $7, grant_types = $8,
		scopes = $9, redirect_uris = $10, auth_method = $11, secrets = $12,
		access_token_ttl = $13, status = $14, converted_from_key = $15, created_at = $16,
		updated_at = $17, jwks = $18, jwks_uri = $19, id_token_alg = $20,
		post_logout_redirect_uris = $21 WHERE id = $1`, clientArgs(c)...)
	if err != nil {
		return clientWriteErr("update", c, err)
	}
	if old.Tenant != c.Tenant {
		t.changed(store.ChangeClient, id, old.Tenant)
	}
	t.changed(store.ChangeClient, id, c.Tenant)
	return nil
}

func (t *tx) DeleteClient(ctx context.Context, id string) error {
	tenant, err := t.deleteReturning(ctx, "client", id,
		`DELETE FROM clients WHERE id = $1 RETURNING tenant`)
	if err != nil {
		return err
	}
	t.changed(store.ChangeClient, id, tenant)
	return nil
}

func keyArgs(k store.SigningKey) []any {
	return []any{k.ID, k.Alg, k.Use, k.State, blob(k.PublicJWK), blob(k.PrivateSealed),
		k.CreatedAt, k.ActivateAt, k.RetiredAt, k.PublishUntil}
}

func (t *tx) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO signing_keys (`+keyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, keyArgs(k)...)
	if err != nil {
		return fmt.Errorf("create signing key %q: %w", k.ID, err)
	}
	t.changed(store.ChangeSigningKey, k.ID, "")
	return nil
}

func (t *tx) UpdateSigningKey(ctx context.Context, kid string, fn func(store.SigningKey) (store.SigningKey, error)) error {
	old, err := getOne(ctx, t.q, "signing key", kid, scanKey,
		`SELECT `+keyCols+` FROM signing_keys WHERE kid = $1 FOR UPDATE`, kid)
	if err != nil {
		return err
	}
	k, err := fn(old)
	if err != nil {
		return err
	}
	if k.ID != kid {
		return errIDChanged("signing key", kid, k.ID)
	}
	_, err = t.exec(ctx, `UPDATE signing_keys SET alg = $2, use = $3, state = $4,
		public_jwk = $5, private_sealed = $6, created_at = $7, activate_at = $8,
		retired_at = $9, publish_until = $10 WHERE kid = $1`, keyArgs(k)...)
	if err != nil {
		return fmt.Errorf("update signing key %q: %w", kid, err)
	}
	t.changed(store.ChangeSigningKey, kid, "")
	return nil
}

func (t *tx) DeleteSigningKey(ctx context.Context, kid string) error {
	ok, err := t.exec(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid)
	if err != nil {
		return fmt.Errorf("delete signing key %q: %w", kid, err)
	}
	if !ok {
		return fmt.Errorf("signing key %q: %w", kid, store.ErrNotFound)
	}
	t.changed(store.ChangeSigningKey, kid, "")
	return nil
}

func (t *tx) CreateRevocation(ctx context.Context, r store.Revocation) error {
	if r.RevokedAt.IsZero() {
		r.RevokedAt = t.now()
	}
	// Revoking twice keeps the first record and is not an error (RFC 7009).
	inserted, err := t.exec(ctx, `INSERT INTO revocations (`+revocationCols+`)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.Tenant, r.ClientID, r.RevokedAt, r.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create revocation %q: %w", r.JTI, err)
	}
	if inserted {
		t.changed(store.ChangeRevocation, r.JTI, r.Tenant)
	}
	return nil
}

func (t *tx) DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error) {
	// A token is expired at its exp instant (RFC 7519 §4.1.4), matching
	// ListRevocations. Nothing is published: caches drop expired
	// revocations on their own.
	tag, err := t.tx.Exec(ctx, `DELETE FROM revocations WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("append audit event: new id: %w", err)
		}
		e.ID = id.String()
	}
	if e.Time.IsZero() {
		e.Time = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO audit_events (`+auditCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.Time, e.Actor, e.ActorTenant, e.Tenant, e.Action,
		e.ObjectType, e.ObjectID, e.RemoteAddr, e.Details)
	if err != nil {
		return fmt.Errorf("append audit event %q: %w", e.ID, err)
	}
	return nil
}
