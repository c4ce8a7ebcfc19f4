package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
)

var (
	_ store.KeyReader = (*Store)(nil)
	_ store.KeyTx     = (*tx)(nil)
)

const apiKeyCols = `id, tenant, hash, hint, name, description, contact_login,
	contact_first_name, contact_last_name, contact_email, permissions, expires_at,
	owner, purpose, status, converted_to_client, disable_at, imported, created_at,
	updated_at, last_used_at`

func scanAPIKey(sc scanner) (store.APIKey, error) {
	var k store.APIKey
	err := sc.Scan(&k.ID, &k.Tenant, &k.Hash, &k.Hint, &k.Name, &k.Description,
		&k.Contact.Login, &k.Contact.FirstName, &k.Contact.LastName, &k.Contact.Email,
		&k.Permissions, &k.ExpiresAt, &k.Owner, &k.Purpose, &k.Status, &k.ConvertedToClient,
		&k.DisableAt, &k.Imported, &k.CreatedAt, &k.UpdatedAt, &k.LastUsedAt)
	k.Permissions = nilIfEmpty(k.Permissions)
	return k, err
}

func (r reader) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	return getOne(ctx, r.q, "api key", id, scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id)
}

func (r reader) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	// The hash names no key in errors: it is as good as a secret to logs.
	return getOne(ctx, r.q, "api key", "by hash", scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE hash = $1`, blob(hash))
}

// defaultAPIKeyLimit is the page size when APIKeyFilter.Limit is 0.
const defaultAPIKeyLimit = 1000

func (r reader) ListAPIKeys(ctx context.Context, f store.APIKeyFilter) ([]store.APIKey, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.Owner != "", "owner = ?", f.Owner)
	w.add(f.Status != "", "status = ?", f.Status)
	w.add(f.After != "", "id > ?", f.After)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAPIKeyLimit
	}
	return list(ctx, r.q, "api keys", scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys`+w.sql()+` ORDER BY id LIMIT `+w.next(),
		append(w.args, limit)...)
}

const usageCols = `key_id, tenant, day, accepted, refused, last_used_at, last_ip,
	last_user_agent, routes`

func scanUsage(sc scanner) (store.UsageDay, error) {
	var u store.UsageDay
	err := sc.Scan(&u.KeyID, &u.Tenant, &u.Day, &u.Accepted, &u.Refused, &u.LastUsedAt,
		&u.LastIP, &u.LastUserAgent, &u.Routes)
	if len(u.Refused) == 0 {
		u.Refused = nil
	}
	u.Routes = nilIfEmpty(u.Routes)
	return u, err
}

func (r reader) ListUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageDay, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.KeyID != "", "key_id = ?", f.KeyID)
	w.add(!f.Since.IsZero(), "day >= ?", f.Since)
	return list(ctx, r.q, "usage", scanUsage,
		`SELECT `+usageCols+` FROM usage_days`+w.sql()+` ORDER BY day, key_id`, w.args...)
}

func (r reader) GetSetting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("setting %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get setting %q: %w", name, mapErr(err))
	}
	return v, nil
}

// ListSettings returns every settings document by name. It is not part of
// store.KeyReader; the store copy uses it to move settings whatever their
// names.
func (r reader) ListSettings(ctx context.Context) (map[string][]byte, error) {
	type setting struct {
		name  string
		value []byte
	}
	rows, err := list(ctx, r.q, "settings", func(sc scanner) (setting, error) {
		var s setting
		err := sc.Scan(&s.name, &s.value)
		return s, err
	}, `SELECT name, value FROM settings ORDER BY name`)
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

func scanOutbox(sc scanner) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	err := sc.Scan(&m.ID, &m.Tenant, &m.Topic, &m.Payload, &m.CreatedAt, &m.NextAttemptAt,
		&m.Attempts, &m.LastError, &m.DeliveredAt)
	return m, err
}

// defaultOutboxLimit is the batch size when ListDueOutbox's limit is 0.
const defaultOutboxLimit = 100

func (r reader) ListDueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	return list(ctx, r.q, "outbox", scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id LIMIT $2`, now, limit)
}

// ListOutbox lists every outbox message, delivered or not, in ID order
// after the given ID. It is not part of store.KeyReader; the store copy
// uses it.
func (r reader) ListOutbox(ctx context.Context, after string, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	return list(ctx, r.q, "outbox", scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// CountAPIKeys returns the number of API keys. It is not part of
// store.KeyReader; the store copy uses it to size and verify the copy
// without reading every key.
func (r reader) CountAPIKeys(ctx context.Context) (int64, error) {
	var n int64
	if err := r.q.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count api keys: %w", mapErr(err))
	}
	return n, nil
}
