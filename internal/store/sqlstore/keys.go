package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/keyshift/keyshift/internal/store"
)

// apiKeyColumns returns the api_keys columns in the order of apiKeyArgs.
func apiKeyColumns() []string {
	return []string{"id", "tenant", "hash", "hint", "name", "description",
		"contact_login", "contact_first_name", "contact_last_name", "contact_email", "permissions",
		"expires_at", "owner", "purpose", "status", "converted_to_client", "disable_at", "imported",
		"created_at", "updated_at", "last_used_at"}
}

const apiKeyCols = `id, tenant, hash, hint, name, description, contact_login,
	contact_first_name, contact_last_name, contact_email, permissions, expires_at,
	owner, purpose, status, converted_to_client, disable_at, imported, created_at,
	updated_at, last_used_at`

func scanAPIKey(d Dialect, sc Row) (store.APIKey, error) {
	var k store.APIKey
	err := sc.Scan(&k.ID, &k.Tenant, &k.Hash, &k.Hint, &k.Name, &k.Description,
		&k.Contact.Login, &k.Contact.FirstName, &k.Contact.LastName, &k.Contact.Email,
		d.StringsDest(&k.Permissions), d.NullTimeDest(&k.ExpiresAt), &k.Owner, &k.Purpose,
		&k.Status, &k.ConvertedToClient, d.NullTimeDest(&k.DisableAt), &k.Imported,
		d.TimeDest(&k.CreatedAt), d.TimeDest(&k.UpdatedAt), d.NullTimeDest(&k.LastUsedAt))
	k.Permissions = nilIfEmpty(k.Permissions)
	return k, err
}

// GetAPIKey implements store.KeyReader.
func (r Reader) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	return getOne(ctx, r.q, r.d, "api key", id, scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id)
}

// GetAPIKeyByHash implements store.KeyReader.
func (r Reader) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	// The hash names no key in errors: it is as good as a secret to logs.
	return getOne(ctx, r.q, r.d, "api key", "by hash", scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ?`, blob(hash))
}

// defaultAPIKeyLimit is the page size when APIKeyFilter.Limit is 0.
const defaultAPIKeyLimit = 1000

// ListAPIKeys implements store.KeyReader.
func (r Reader) ListAPIKeys(ctx context.Context, f store.APIKeyFilter) ([]store.APIKey, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.Owner != "", "owner = ?", f.Owner)
	w.add(f.Status != "", "status = ?", f.Status)
	w.add(f.After != "", "id > ?", f.After)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAPIKeyLimit
	}
	return list(ctx, r.q, r.d, "api keys", scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys`+w.sql()+` ORDER BY id LIMIT ?`, append(w.args, limit)...)
}

// CountAPIKeys returns the number of API keys, for the store copy to size
// and verify a copy without reading every key.
func (r Reader) CountAPIKeys(ctx context.Context) (int64, error) {
	var n int64
	if err := r.q.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count api keys: %w", r.d.MapErr(err))
	}
	return n, nil
}

const usageCols = `key_id, tenant, day, accepted, refused, last_used_at, last_ip,
	last_user_agent, routes`

func scanUsage(d Dialect, sc Row) (store.UsageDay, error) {
	var u store.UsageDay
	err := sc.Scan(&u.KeyID, &u.Tenant, d.TimeDest(&u.Day), &u.Accepted, d.JSONDest(&u.Refused),
		d.TimeDest(&u.LastUsedAt), &u.LastIP, &u.LastUserAgent, d.JSONDest(&u.Routes))
	if len(u.Refused) == 0 {
		u.Refused = nil
	}
	u.Routes = nilIfEmpty(u.Routes)
	return u, err
}

// ListUsage implements store.KeyReader.
func (r Reader) ListUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageDay, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.KeyID != "", "key_id = ?", f.KeyID)
	w.add(!f.Since.IsZero(), "day >= ?", r.d.Time(f.Since))
	return list(ctx, r.q, r.d, "usage", scanUsage,
		`SELECT `+usageCols+` FROM usage_days`+w.sql()+` ORDER BY day, key_id`, w.args...)
}

// GetUsageDay returns one key's usage on day (midnight UTC), ErrNotFound
// when it has none; a backend's read-modify-write usage merge reads it.
func (r Reader) GetUsageDay(ctx context.Context, keyID string, day time.Time) (store.UsageDay, error) {
	return getOne(ctx, r.q, r.d, "usage", keyID, scanUsage,
		`SELECT `+usageCols+` FROM usage_days WHERE key_id = ? AND day = ?`, keyID, r.d.Time(day))
}

// GetSetting implements store.KeyReader.
func (r Reader) GetSetting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("setting %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get setting %q: %w", name, r.d.MapErr(err))
	}
	return v, nil
}

type setting struct {
	name  string
	value []byte
}

func scanSetting(_ Dialect, sc Row) (setting, error) {
	var s setting
	err := sc.Scan(&s.name, &s.value)
	return s, err
}

// ListSettings returns every settings document by name, for the store
// copy to move settings whatever their names.
func (r Reader) ListSettings(ctx context.Context) (map[string][]byte, error) {
	rows, err := list(ctx, r.q, r.d, "settings", scanSetting, `SELECT name, value FROM settings ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(rows))
	for _, s := range rows {
		out[s.name] = s.value
	}
	return out, nil
}

const outboxCols = `id, tenant, topic, payload, created_at, next_attempt_at, attempts,
	last_error, delivered_at`

func scanOutbox(d Dialect, sc Row) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	err := sc.Scan(&m.ID, &m.Tenant, &m.Topic, &m.Payload, d.TimeDest(&m.CreatedAt),
		d.TimeDest(&m.NextAttemptAt), &m.Attempts, &m.LastError, d.NullTimeDest(&m.DeliveredAt))
	return m, err
}

// defaultOutboxLimit is the batch size when ListDueOutbox's limit is 0.
const defaultOutboxLimit = 100

// ListDueOutbox implements store.KeyReader.
func (r Reader) ListDueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	return list(ctx, r.q, r.d, "outbox", scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`, r.d.Time(now), limit)
}

// ListOutbox lists every outbox message, delivered or not, in ID order
// after the given ID, for the store copy.
func (r Reader) ListOutbox(ctx context.Context, after string, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	return list(ctx, r.q, r.d, "outbox", scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// apiKeyArgs returns a key's columns in apiKeyColumns order, encoded for d.
func apiKeyArgs(d Dialect, k store.APIKey) ([]any, error) {
	perms, err := d.Strings(k.Permissions)
	if err != nil {
		return nil, err
	}
	return []any{k.ID, k.Tenant, blob(k.Hash), k.Hint, k.Name, k.Description,
		k.Contact.Login, k.Contact.FirstName, k.Contact.LastName, k.Contact.Email,
		perms, d.NullTime(k.ExpiresAt), k.Owner, k.Purpose, k.Status, k.ConvertedToClient,
		d.NullTime(k.DisableAt), k.Imported, d.Time(k.CreatedAt), d.Time(k.UpdatedAt),
		d.NullTime(k.LastUsedAt)}, nil
}

// apiKeyWriteErr explains a failed key write without showing the hash.
func apiKeyWriteErr(op string, k store.APIKey, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s api key %q: tenant %q: %w", op, k.ID, k.Tenant, store.ErrNotFound)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%s api key %q: another key has the same hash: %w", op, k.ID, store.ErrConflict)
	case errors.Is(err, store.ErrAlreadyExists):
		return fmt.Errorf("%s api key %q: %w", op, k.ID, store.ErrAlreadyExists)
	}
	return fmt.Errorf("%s api key %q: %w", op, k.ID, err)
}

// CreateAPIKeys implements store.KeyTx: CreateAPIKey for each key, in one
// bulk insert (Txn.CopyFrom).
func (t *Writer) CreateAPIKeys(ctx context.Context, keys []store.APIKey) error {
	rows := make([][]any, len(keys))
	for i, k := range keys {
		t.stamp(&k.CreatedAt, &k.UpdatedAt)
		args, err := apiKeyArgs(t.d, k)
		if err != nil {
			return fmt.Errorf("create %d api keys: %w", len(keys), err)
		}
		rows[i] = args
	}
	if err := t.txn.CopyFrom(ctx, "api_keys", apiKeyColumns(), rows); err != nil {
		return fmt.Errorf("create %d api keys: %w", len(keys), t.d.MapErr(err))
	}
	for _, k := range keys {
		t.Changed(store.ChangeAPIKey, k.ID, k.Tenant)
	}
	return nil
}

// CreateAPIKey implements store.KeyTx.
func (t *Writer) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	t.stamp(&k.CreatedAt, &k.UpdatedAt)
	args, err := apiKeyArgs(t.d, k)
	if err != nil {
		return apiKeyWriteErr("create", k, err)
	}
	_, err = t.exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return apiKeyWriteErr("create", k, err)
	}
	t.Changed(store.ChangeAPIKey, k.ID, k.Tenant)
	return nil
}

// UpdateAPIKey implements store.KeyTx.
func (t *Writer) UpdateAPIKey(ctx context.Context, id string, fn func(store.APIKey) (store.APIKey, error)) error {
	old, k, err := modify(ctx, t, "api key", id, scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`,
		func(v store.APIKey) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	t.restamp(old.UpdatedAt, &k.UpdatedAt)
	args, err := apiKeyArgs(t.d, k)
	if err != nil {
		return apiKeyWriteErr("update", k, err)
	}
	_, err = t.exec(ctx, `UPDATE api_keys SET tenant = ?, hash = ?, hint = ?, name = ?,
		description = ?, contact_login = ?, contact_first_name = ?, contact_last_name = ?,
		contact_email = ?, permissions = ?, expires_at = ?, owner = ?, purpose = ?, status = ?,
		converted_to_client = ?, disable_at = ?, imported = ?, created_at = ?, updated_at = ?,
		last_used_at = ? WHERE id = ?`, append(args[1:], id)...)
	if err != nil {
		return apiKeyWriteErr("update", k, err)
	}
	if old.Tenant != k.Tenant {
		t.Changed(store.ChangeAPIKey, id, old.Tenant)
	}
	t.Changed(store.ChangeAPIKey, id, k.Tenant)
	return nil
}

// DeleteAPIKey implements store.KeyTx.
func (t *Writer) DeleteAPIKey(ctx context.Context, id string) error {
	tenant, err := t.deleteReturning(ctx, "api key", id,
		`DELETE FROM api_keys WHERE id = ? RETURNING tenant`, id)
	if err != nil {
		return err
	}
	t.Changed(store.ChangeAPIKey, id, tenant)
	return nil
}

// PutSetting implements store.KeyTx.
func (t *Writer) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := t.exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, blob(value), t.d.Time(t.now()))
	if err != nil {
		return fmt.Errorf("put setting %q: %w", name, err)
	}
	t.Changed(store.ChangeSetting, name, "")
	return nil
}

func outboxArgs(d Dialect, m store.OutboxMessage) []any {
	return []any{m.ID, m.Tenant, m.Topic, blob(m.Payload), d.Time(m.CreatedAt),
		d.Time(m.NextAttemptAt), m.Attempts, m.LastError, d.NullTime(m.DeliveredAt)}
}

// EnqueueOutbox implements store.KeyTx.
func (t *Writer) EnqueueOutbox(ctx context.Context, m store.OutboxMessage) error {
	if m.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("enqueue outbox message: new id: %w", err)
		}
		m.ID = id.String()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = t.now()
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	_, err := t.exec(ctx, `INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		outboxArgs(t.d, m)...)
	if err != nil {
		return fmt.Errorf("enqueue outbox message %q: %w", m.ID, err)
	}
	return nil
}

// UpdateOutbox implements store.KeyTx.
func (t *Writer) UpdateOutbox(ctx context.Context, id string, fn func(store.OutboxMessage) (store.OutboxMessage, error)) error {
	_, m, err := modify(ctx, t, "outbox message", id, scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE id = ?`,
		func(v store.OutboxMessage) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	args := outboxArgs(t.d, m)
	_, err = t.exec(ctx, `UPDATE outbox SET tenant = ?, topic = ?, payload = ?, created_at = ?,
		next_attempt_at = ?, attempts = ?, last_error = ?, delivered_at = ? WHERE id = ?`,
		append(args[1:], id)...)
	if err != nil {
		return fmt.Errorf("update outbox message %q: %w", id, err)
	}
	return nil
}

// DeleteDeliveredOutbox implements store.KeyTx.
func (t *Writer) DeleteDeliveredOutbox(ctx context.Context, before time.Time) (int, error) {
	n, err := t.q.Exec(ctx,
		`DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?`, t.d.Time(before))
	if err != nil {
		return 0, fmt.Errorf("delete delivered outbox messages: %w", t.d.MapErr(err))
	}
	return int(n), nil
}
