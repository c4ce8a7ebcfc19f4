package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/keyshift/keyshift/internal/store"
)

// Writer implements the store's writes inside one transaction. It records
// the changes it makes so that the backend can publish them once the commit
// succeeded.
type Writer struct {
	Reader
	txn     Txn
	now     func() time.Time
	changes []store.Change
}

// newWriter returns the writes (and reads) of txn under dialect d; now
// stamps records whose times the caller left zero.
func newWriter(txn Txn, d Dialect, now func() time.Time) *Writer {
	return &Writer{Reader: Reader{q: txn, d: d}, txn: txn, now: now}
}

// Changes returns the changes made so far, in order.
func (t *Writer) Changes() []store.Change { return t.changes }

// Changed records a change made through the transaction by code outside
// this package (a backend's bulk path).
func (t *Writer) Changed(kind store.ChangeKind, id, tenant string) {
	t.changes = append(t.changes, store.Change{Kind: kind, ID: id, Tenant: tenant})
}

// exec runs a write and reports whether it touched a row.
func (t *Writer) exec(ctx context.Context, query string, args ...any) (bool, error) {
	n, err := t.q.Exec(ctx, query, args...)
	if err != nil {
		return false, t.d.MapErr(err)
	}
	return n > 0, nil
}

// lock reads the row of a read-modify-write, locking it against
// concurrent writers where the dialect needs to.
func lock[T any](ctx context.Context, t *Writer, what, id string, scan scanFunc[T], query string, args ...any) (T, error) {
	return getOne(ctx, t.q, t.d, what, id, scan, query+t.d.ForUpdate(), args...)
}

// modify locks the row of a read-modify-write, runs fn on it and refuses
// a result whose id (keyOf) changed; what names the record in errors.
func modify[T any](ctx context.Context, t *Writer, what, id string, scan scanFunc[T], query string,
	keyOf func(T) string, fn func(T) (T, error)) (old, v T, err error) {
	old, err = lock(ctx, t, what, id, scan, query, id)
	if err != nil {
		return old, v, err
	}
	if v, err = fn(old); err != nil {
		return old, v, err
	}
	if k := keyOf(v); k != id {
		return old, v, errIDChanged(what, id, k)
	}
	return old, v, nil
}

// modifyByHash is modify for grant records, which are found by the hash
// of their secret rather than by an id.
func modifyByHash[T any](ctx context.Context, t *Writer, what string, hash []byte, scan scanFunc[T], query string,
	hashOf func(T) []byte, fn func(T) (T, error)) (T, error) {
	var v T
	old, err := lock(ctx, t, what, "by hash", scan, query, blob(hash))
	if err != nil {
		return v, err
	}
	if v, err = fn(old); err != nil {
		return v, err
	}
	if !bytes.Equal(hashOf(v), hash) {
		return v, fmt.Errorf("update %s: hash changed", what)
	}
	return v, nil
}

// stamp fills zero creation and update times from the clock.
func (t *Writer) stamp(created, updated *time.Time) {
	if created.IsZero() {
		*created = t.now()
	}
	if updated.IsZero() {
		*updated = *created
	}
}

// restamp moves the update time to now when fn left it unchanged.
func (t *Writer) restamp(old time.Time, updated *time.Time) {
	if updated.Equal(old) {
		*updated = t.now()
	}
}

// deleteReturning runs a DELETE … RETURNING of one text column and reports
// ErrNotFound when no row went.
func (t *Writer) deleteReturning(ctx context.Context, what, id, query string, args ...any) (string, error) {
	var out string
	err := t.q.QueryRow(ctx, query, args...).Scan(&out)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("delete %s %q: %w", what, id, t.d.MapErr(err))
	}
	return out, nil
}

func errIDChanged(what, from, to string) error {
	return fmt.Errorf("update %s %q: id changed to %q", what, from, to)
}

// CreateTenant implements store.Tx.
func (t *Writer) CreateTenant(ctx context.Context, v store.Tenant) error {
	t.stamp(&v.CreatedAt, &v.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?)`,
		v.ID, v.Name, v.Status, t.d.Time(v.CreatedAt), t.d.Time(v.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", v.ID, err)
	}
	t.Changed(store.ChangeTenant, v.ID, v.ID)
	return nil
}

// UpdateTenant implements store.Tx.
func (t *Writer) UpdateTenant(ctx context.Context, id string, fn func(store.Tenant) (store.Tenant, error)) error {
	old, v, err := modify(ctx, t, "tenant", id, scanTenant,
		`SELECT `+tenantCols+` FROM tenants WHERE id = ?`,
		func(v store.Tenant) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	t.restamp(old.UpdatedAt, &v.UpdatedAt)
	_, err = t.exec(ctx, `UPDATE tenants SET name = ?, status = ?, created_at = ?, updated_at = ?
		WHERE id = ?`, v.Name, v.Status, t.d.Time(v.CreatedAt), t.d.Time(v.UpdatedAt), id)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", id, err)
	}
	t.Changed(store.ChangeTenant, id, id)
	return nil
}

// DeleteTenant implements store.Tx. It locks the tenant first: inserting a
// client or key for it takes a key-share lock on the tenant row, so none
// can slip in between the deletion of its children (whose ids are
// announced, for the caches) and its own.
func (t *Writer) DeleteTenant(ctx context.Context, id string) error {
	if _, err := lock(ctx, t, "tenant", id, scanString,
		`SELECT id FROM tenants WHERE id = ?`, id); err != nil {
		return err
	}
	var gone [3][]string
	for i, table := range [...]string{"clients", "api_keys", "users"} {
		ids, err := list(ctx, t.q, t.d, table, scanString,
			`DELETE FROM `+table+` WHERE tenant = ? RETURNING id`, id)
		if err != nil {
			return fmt.Errorf("delete tenant %q: %w", id, err)
		}
		gone[i] = ids
	}
	if _, err := t.exec(ctx, `DELETE FROM tenants WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	for i, kind := range [...]store.ChangeKind{store.ChangeClient, store.ChangeAPIKey, store.ChangeUser} {
		for _, child := range gone[i] {
			t.Changed(kind, child, id)
		}
	}
	t.Changed(store.ChangeTenant, id, id)
	return nil
}

// PutScope implements store.Tx.
func (t *Writer) PutScope(ctx context.Context, s store.Scope) error {
	t.stamp(&s.CreatedAt, &s.UpdatedAt)
	perms, err := t.d.Strings(s.Permissions)
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	_, err = t.exec(ctx, `INSERT INTO scopes (`+scopeCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description,
			permissions = excluded.permissions, builtin = excluded.builtin,
			updated_at = excluded.updated_at`,
		s.Name, s.Description, perms, s.Builtin, t.d.Time(s.CreatedAt), t.d.Time(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	t.Changed(store.ChangeScope, s.Name, "")
	return nil
}

// DeleteScope implements store.Tx.
func (t *Writer) DeleteScope(ctx context.Context, name string) error {
	ok, err := t.exec(ctx, `DELETE FROM scopes WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete scope %q: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("scope %q: %w", name, store.ErrNotFound)
	}
	t.Changed(store.ChangeScope, name, "")
	return nil
}

// clientArgs returns a client's columns in clientCols order.
func clientArgs(d Dialect, c store.Client) ([]any, error) {
	secrets, err := encodeSecrets(d, c.Secrets)
	if err != nil {
		return nil, err
	}
	e := encoder{d: d}
	args := []any{c.ID, c.Tenant, c.Name, c.Contact.Login, c.Contact.FirstName,
		c.Contact.LastName, c.Contact.Email, e.strings(c.GrantTypes), e.strings(c.Scopes),
		e.strings(c.RedirectURIs), c.AuthMethod, secrets,
		int64(c.AccessTokenTTL), c.Status, c.ConvertedFromKey, d.Time(c.CreatedAt), d.Time(c.UpdatedAt),
		blob(c.JWKS), c.JWKSURI, c.IDTokenAlg, e.strings(c.PostLogoutRedirectURIs)}
	return args, e.err
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

// CreateClient implements store.Tx.
func (t *Writer) CreateClient(ctx context.Context, c store.Client) error {
	t.stamp(&c.CreatedAt, &c.UpdatedAt)
	args, err := clientArgs(t.d, c)
	if err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, err)
	}
	_, err = t.exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return clientWriteErr("create", c, err)
	}
	t.Changed(store.ChangeClient, c.ID, c.Tenant)
	return nil
}

// UpdateClient implements store.Tx.
func (t *Writer) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error)) error {
	old, c, err := modify(ctx, t, "client", id, scanClient,
		`SELECT `+clientCols+` FROM clients WHERE id = ?`,
		func(v store.Client) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	t.restamp(old.UpdatedAt, &c.UpdatedAt)
	args, err := clientArgs(t.d, c)
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
		t.Changed(store.ChangeClient, id, old.Tenant)
	}
	t.Changed(store.ChangeClient, id, c.Tenant)
	return nil
}

// DeleteClient implements store.Tx.
func (t *Writer) DeleteClient(ctx context.Context, id string) error {
	tenant, err := t.deleteReturning(ctx, "client", id,
		`DELETE FROM clients WHERE id = ? RETURNING tenant`, id)
	if err != nil {
		return err
	}
	t.Changed(store.ChangeClient, id, tenant)
	return nil
}

func keyArgs(d Dialect, k store.SigningKey) []any {
	return []any{k.ID, k.Alg, k.Use, k.State, blob(k.PublicJWK), blob(k.PrivateSealed),
		d.Time(k.CreatedAt), d.Time(k.ActivateAt), d.Time(k.RetiredAt), d.Time(k.PublishUntil)}
}

// CreateSigningKey implements store.Tx.
func (t *Writer) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO signing_keys (`+keyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, keyArgs(t.d, k)...)
	if err != nil {
		return fmt.Errorf("create signing key %q: %w", k.ID, err)
	}
	t.Changed(store.ChangeSigningKey, k.ID, "")
	return nil
}

// UpdateSigningKey implements store.Tx.
func (t *Writer) UpdateSigningKey(ctx context.Context, kid string, fn func(store.SigningKey) (store.SigningKey, error)) error {
	_, k, err := modify(ctx, t, "signing key", kid, scanKey,
		`SELECT `+keyCols+` FROM signing_keys WHERE kid = ?`,
		func(v store.SigningKey) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	args := keyArgs(t.d, k)
	_, err = t.exec(ctx, `UPDATE signing_keys SET alg = ?, use = ?, state = ?, public_jwk = ?,
		private_sealed = ?, created_at = ?, activate_at = ?, retired_at = ?, publish_until = ?
		WHERE kid = ?`, append(args[1:], kid)...)
	if err != nil {
		return fmt.Errorf("update signing key %q: %w", kid, err)
	}
	t.Changed(store.ChangeSigningKey, kid, "")
	return nil
}

// DeleteSigningKey implements store.Tx.
func (t *Writer) DeleteSigningKey(ctx context.Context, kid string) error {
	ok, err := t.exec(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
	if err != nil {
		return fmt.Errorf("delete signing key %q: %w", kid, err)
	}
	if !ok {
		return fmt.Errorf("signing key %q: %w", kid, store.ErrNotFound)
	}
	t.Changed(store.ChangeSigningKey, kid, "")
	return nil
}

// CreateRevocation implements store.Tx.
func (t *Writer) CreateRevocation(ctx context.Context, r store.Revocation) error {
	if r.RevokedAt.IsZero() {
		r.RevokedAt = t.now()
	}
	// Revoking twice keeps the first record and is not an error (RFC 7009).
	inserted, err := t.exec(ctx, `INSERT INTO revocations (`+revocationCols+`)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.Tenant, r.ClientID, t.d.Time(r.RevokedAt), t.d.Time(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create revocation %q: %w", r.JTI, err)
	}
	if inserted {
		t.Changed(store.ChangeRevocation, r.JTI, r.Tenant)
	}
	return nil
}

// DeleteExpiredRevocations implements store.Tx.
func (t *Writer) DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error) {
	// A token is expired at its exp instant (RFC 7519 §4.1.4), matching
	// ListRevocations, which lists only expires_at > now. Nothing is
	// published: caches drop expired revocations on their own.
	n, err := t.q.Exec(ctx, `DELETE FROM revocations WHERE expires_at <= ?`, t.d.Time(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", t.d.MapErr(err))
	}
	return int(n), nil
}

// AppendAudit implements store.Tx.
func (t *Writer) AppendAudit(ctx context.Context, e store.AuditEvent) error {
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
		e.ID, t.d.Time(e.Time), e.Actor, e.ActorTenant, e.Tenant, e.Action,
		e.ObjectType, e.ObjectID, e.RemoteAddr, e.Details)
	if err != nil {
		return fmt.Errorf("append audit event %q: %w", e.ID, err)
	}
	return nil
}
