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

var (
	_ store.KeyReader = (*Store)(nil)
	_ store.KeyTx     = (*tx)(nil)
)

// nullTime stores a nil time pointer as NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// timePtr decodes a nullable time column.
func (d *decoder) timePtr(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := d.time(s.String)
	return &t
}

const apiKeyCols = `id, tenant, hash, hint, name, description, contact_login,
	contact_first_name, contact_last_name, contact_email, permissions, expires_at,
	owner, purpose, status, converted_to_client, disable_at, imported, created_at,
	updated_at, last_used_at`

func scanAPIKey(sc scanner) (store.APIKey, error) {
	var k store.APIKey
	var perms, created, updated string
	var expires, disable, lastUsed sql.NullString
	err := sc.Scan(&k.ID, &k.Tenant, &k.Hash, &k.Hint, &k.Name, &k.Description,
		&k.Contact.Login, &k.Contact.FirstName, &k.Contact.LastName, &k.Contact.Email,
		&perms, &expires, &k.Owner, &k.Purpose, &k.Status, &k.ConvertedToClient, &disable,
		&k.Imported, &created, &updated, &lastUsed)
	if err != nil {
		return k, err
	}
	var d decoder
	k.Permissions = d.strings(perms)
	k.ExpiresAt, k.DisableAt, k.LastUsedAt = d.timePtr(expires), d.timePtr(disable), d.timePtr(lastUsed)
	k.CreatedAt, k.UpdatedAt = d.time(created), d.time(updated)
	return k, d.err
}

func (r reader) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	return getOne(ctx, r.q, "api key", id, scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id)
}

func (r reader) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	// The hash names no key in errors: it is as good as a secret to logs.
	return getOne(ctx, r.q, "api key", "by hash", scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ?`, blob(hash))
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
		`SELECT `+apiKeyCols+` FROM api_keys`+w.sql()+` ORDER BY id LIMIT ?`, append(w.args, limit)...)
}

// where builds a conjunction of optional conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(ok bool, cond string, arg any) {
	if ok {
		w.conds = append(w.conds, cond)
		w.args = append(w.args, arg)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

const usageCols = `key_id, tenant, day, accepted, refused, last_used_at, last_ip,
	last_user_agent, routes`

func scanUsage(sc scanner) (store.UsageDay, error) {
	var u store.UsageDay
	var day, refused, lastUsed, routes string
	err := sc.Scan(&u.KeyID, &u.Tenant, &day, &u.Accepted, &refused, &lastUsed,
		&u.LastIP, &u.LastUserAgent, &routes)
	if err != nil {
		return u, err
	}
	var d decoder
	u.Day, u.LastUsedAt = d.time(day), d.time(lastUsed)
	d.json(refused, &u.Refused)
	d.json(routes, &u.Routes)
	if len(u.Refused) == 0 {
		u.Refused = nil
	}
	if len(u.Routes) == 0 {
		u.Routes = nil
	}
	return u, d.err
}

func (r reader) ListUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageDay, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(f.KeyID != "", "key_id = ?", f.KeyID)
	w.add(!f.Since.IsZero(), "day >= ?", fmtTime(f.Since))
	return list(ctx, r.q, "usage", scanUsage,
		`SELECT `+usageCols+` FROM usage_days`+w.sql()+` ORDER BY day, key_id`, w.args...)
}

func (r reader) GetSetting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("setting %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get setting %q: %w", name, mapErr(err))
	}
	return v, nil
}

const outboxCols = `id, tenant, topic, payload, created_at, next_attempt_at, attempts,
	last_error, delivered_at`

func scanOutbox(sc scanner) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	var created, next string
	var delivered sql.NullString
	err := sc.Scan(&m.ID, &m.Tenant, &m.Topic, &m.Payload, &created, &next, &m.Attempts,
		&m.LastError, &delivered)
	if err != nil {
		return m, err
	}
	var d decoder
	m.CreatedAt, m.NextAttemptAt = d.time(created), d.time(next)
	m.DeliveredAt = d.timePtr(delivered)
	return m, d.err
}

// defaultOutboxLimit is the batch size when ListDueOutbox's limit is 0.
const defaultOutboxLimit = 100

func (r reader) ListDueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	return list(ctx, r.q, "outbox", scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`, fmtTime(now), limit)
}

func (r reader) getOutbox(ctx context.Context, id string) (store.OutboxMessage, error) {
	return getOne(ctx, r.q, "outbox message", id, scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id)
}
