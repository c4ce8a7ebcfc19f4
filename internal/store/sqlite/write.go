package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/keyshift/keyshift/internal/store"
)

// tx implements store.Tx. It records the changes it makes so that Store.Tx
// can publish them once the commit succeeded.
type tx struct {
	reader
	tx      *sql.Tx
	now     func() time.Time
	changes []store.Change
}

var _ store.Tx = (*tx)(nil)

func (t *tx) changed(kind store.ChangeKind, id, tenant string) {
	t.changes = append(t.changes, store.Change{Kind: kind, ID: id, Tenant: tenant})
}

// exec runs a write and reports whether it touched a row.
func (t *tx) exec(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, nil
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

func scanString(sc scanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

// notFoundOr explains a failed DELETE … RETURNING: no row means not found.
func notFoundOr(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	return fmt.Errorf("delete %s %q: %w", what, id, mapErr(err))
}

func errIDChanged(what, from, to string) error {
	return fmt.Errorf("update %s %q: id changed to %q", what, from, to)
}

func (t *tx) CreateTenant(ctx context.Context, v store.Tenant) error {
	t.stamp(&v.CreatedAt, &v.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?)`,
		v.ID, v.Name, v.Status, fmtTime(v.CreatedAt), fmtTime(v.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", v.ID, err)
	}
	t.changed(store.ChangeTenant, v.ID, v.ID)
	return nil
}

func (t *tx) UpdateTenant(ctx context.Context, id string, fn func(store.Tenant) (store.Tenant, error)) error {
	old, err := t.GetTenant(ctx, id)
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
	_, err = t.exec(ctx, `UPDATE tenants SET name = ?, status = ?, created_at = ?, updated_at = ?
		WHERE id = ?`, v.Name, v.Status, fmtTime(v.CreatedAt), fmtTime(v.UpdatedAt), id)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", id, err)
	}
	t.changed(store.ChangeTenant, id, id)
	return nil
}

func (t *tx) DeleteTenant(ctx context.Context, id string) error {
	clients, err := t.ListClients(ctx, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	keys, err := list(ctx, t.q, "api keys", scanString, `SELECT id FROM api_keys WHERE tenant = ?`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	users, err := list(ctx, t.q, "users", scanString, `SELECT id FROM users WHERE tenant = ?`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	ok, err := t.exec(ctx, `DELETE FROM tenants WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("tenant %q: %w", id, store.ErrNotFound)
	}
	// The clients and keys went with the tenant (ON DELETE CASCADE); caches
	// must hear about each of them.
	for _, c := range clients {
		t.changed(store.ChangeClient, c.ID, id)
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

func (t *tx) PutScope(ctx context.Context, s store.Scope) error {
	t.stamp(&s.CreatedAt, &s.UpdatedAt)
	perms, err := jsonText(s.Permissions)
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	_, err = t.exec(ctx, `INSERT INTO scopes (`+scopeCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description,
			permissions = excluded.permissions, builtin = excluded.builtin,
			updated_at = excluded.updated_at`,
		s.Name, s.Description, perms, s.Builtin, fmtTime(s.CreatedAt), fmtTime(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	t.changed(store.ChangeScope, s.Name, "")
	return nil
}

func (t *tx) DeleteScope(ctx context.Context, name string) error {
	ok, err := t.exec(ctx, `DELETE FROM scopes WHERE name = ?`, name)
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
func clientArgs(c store.Client) ([]any, error) {
	var enc [5]string
	var err error
	for i, s := range [][]string{c.GrantTypes, c.Scopes, c.RedirectURIs, c.PostLogoutRedirectURIs} {
		if enc[i], err = jsonText(s); err != nil {
			return nil, err
		}
	}
	if enc[4], err = encodeSecrets(c.Secrets); err != nil {
		return nil, err
	}
	return []any{c.ID, c.Tenant, c.Name, c.Contact.Login, c.Contact.FirstName,
		c.Contact.LastName, c.Contact.Email, enc[0], enc[1], enc[2], c.AuthMethod, enc[4],
		int64(c.AccessTokenTTL), c.Status, c.ConvertedFromKey,
		fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt), blob(c.JWKS), c.JWKSURI, c.IDTokenAlg,
		enc[3]}, nil
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
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, err)
	}
	_, err = t.exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return clientWriteErr("create", c, err)
	}
	t.changed(store.ChangeClient, c.ID, c.Tenant)
	return nil
}

func (t *tx) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error)) error {
	old, err := t.GetClient(ctx, id)
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
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("update client %q: %w", id, err)
	}
	_, err = t.exec(ctx, `UPDATE clients SET tenant = ?, name = ?, contact_login = ?,
		contact_first_name = ?, contact_last_name = ?, contact_email = ?, grant_types = ?,
		scopes = ?, redirect_uris = ?, auth_method = ?, secrets = ?, access_token_ttl = ?,
		status = ?, converted_from_key = ?, created_at = ?, updated_at = ?, jwks = ?,
		jwks_uri = ?, id_token_alg = ?, post_logout_redirect_uris = ?
		WHERE id = ?`, append(args[1:], id)...)
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
	var tenant string
	err := t.tx.QueryRowContext(ctx, `DELETE FROM clients WHERE id = ? RETURNING tenant`, id).Scan(&tenant)
	if err != nil {
		return notFoundOr(err, "client", id)
	}
	t.changed(store.ChangeClient, id, tenant)
	return nil
}

func keyArgs(k store.SigningKey) []any {
	return []any{k.ID, k.Alg, k.Use, k.State, blob(k.PublicJWK), blob(k.PrivateSealed),
		fmtTime(k.CreatedAt), fmtTime(k.ActivateAt), fmtTime(k.RetiredAt), fmtTime(k.PublishUntil)}
}

func (t *tx) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO signing_keys (`+keyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, keyArgs(k)...)
	if err != nil {
		return fmt.Errorf("create signing key %q: %w", k.ID, err)
	}
	t.changed(store.ChangeSigningKey, k.ID, "")
	return nil
}

func (t *tx) UpdateSigningKey(ctx context.Context, kid string, fn func(store.SigningKey) (store.SigningKey, error)) error {
	old, err := t.GetSigningKey(ctx, kid)
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
	args := keyArgs(k)
	_, err = t.exec(ctx, `UPDATE signing_keys SET alg = ?, use = ?, state = ?, public_jwk = ?,
		private_sealed = ?, created_at = ?, activate_at = ?, retired_at = ?, publish_until = ?
		WHERE kid = ?`, append(args[1:], kid)...)
	if err != nil {
		return fmt.Errorf("update signing key %q: %w", kid, err)
	}
	t.changed(store.ChangeSigningKey, kid, "")
	return nil
}

func (t *tx) DeleteSigningKey(ctx context.Context, kid string) error {
	ok, err := t.exec(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
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
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.Tenant, r.ClientID, fmtTime(r.RevokedAt), fmtTime(r.ExpiresAt))
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
	// ListRevocations, which lists only expires_at > now. Nothing is
	// published: caches drop expired revocations on their own.
	res, err := t.tx.ExecContext(ctx, `DELETE FROM revocations WHERE expires_at <= ?`, fmtTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", err)
	}
	return int(n), nil
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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, fmtTime(e.Time), e.Actor, e.ActorTenant, e.Tenant, e.Action,
		e.ObjectType, e.ObjectID, e.RemoteAddr, e.Details)
	if err != nil {
		return fmt.Errorf("append audit event %q: %w", e.ID, err)
	}
	return nil
}
