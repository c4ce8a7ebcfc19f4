package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/keyshift/keyshift/internal/store"
)

// maxRoutes is how many of a key's most used routes a usage day keeps.
const maxRoutes = 10

// apiKeyArgs returns a key's columns in apiKeyCols order.
func apiKeyArgs(k store.APIKey) ([]any, error) {
	perms, err := jsonText(k.Permissions)
	if err != nil {
		return nil, err
	}
	return []any{k.ID, k.Tenant, blob(k.Hash), k.Hint, k.Name, k.Description,
		k.Contact.Login, k.Contact.FirstName, k.Contact.LastName, k.Contact.Email, perms,
		nullTime(k.ExpiresAt), k.Owner, k.Purpose, k.Status, k.ConvertedToClient,
		nullTime(k.DisableAt), k.Imported, fmtTime(k.CreatedAt), fmtTime(k.UpdatedAt),
		nullTime(k.LastUsedAt)}, nil
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

func (t *tx) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	t.stamp(&k.CreatedAt, &k.UpdatedAt)
	args, err := apiKeyArgs(k)
	if err != nil {
		return apiKeyWriteErr("create", k, err)
	}
	_, err = t.exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return apiKeyWriteErr("create", k, err)
	}
	t.changed(store.ChangeAPIKey, k.ID, k.Tenant)
	return nil
}

func (t *tx) UpdateAPIKey(ctx context.Context, id string, fn func(store.APIKey) (store.APIKey, error)) error {
	old, err := t.GetAPIKey(ctx, id)
	if err != nil {
		return err
	}
	k, err := fn(old)
	if err != nil {
		return err
	}
	if k.ID != id {
		return errIDChanged("api key", id, k.ID)
	}
	t.restamp(old.UpdatedAt, &k.UpdatedAt)
	args, err := apiKeyArgs(k)
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
		t.changed(store.ChangeAPIKey, id, old.Tenant)
	}
	t.changed(store.ChangeAPIKey, id, k.Tenant)
	return nil
}

func (t *tx) DeleteAPIKey(ctx context.Context, id string) error {
	var tenant string
	err := t.tx.QueryRowContext(ctx, `DELETE FROM api_keys WHERE id = ? RETURNING tenant`, id).Scan(&tenant)
	if err != nil {
		return notFoundOr(err, "api key", id)
	}
	t.changed(store.ChangeAPIKey, id, tenant)
	return nil
}

// AddUsage merges each delta into its key's day. The read-modify-write is
// safe because write transactions are serialised (BEGIN IMMEDIATE).
func (t *tx) AddUsage(ctx context.Context, deltas []store.UsageDelta) error {
	for _, d := range deltas {
		if err := t.addUsage(ctx, d); err != nil {
			return fmt.Errorf("add usage of key %q on %s: %w", d.KeyID, d.Day.Format(time.DateOnly), err)
		}
	}
	return nil
}

func (t *tx) addUsage(ctx context.Context, d store.UsageDelta) error {
	day := d.Day.UTC().Truncate(24 * time.Hour)
	cur, err := getOne(ctx, t.q, "usage", d.KeyID, scanUsage,
		`SELECT `+usageCols+` FROM usage_days WHERE key_id = ? AND day = ?`, d.KeyID, fmtTime(day))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	u := mergeUsage(cur, d)
	u.Day = day
	refused, err := json.Marshal(u.Refused)
	if err != nil {
		return err
	}
	routes, err := json.Marshal(u.Routes)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO usage_days (`+usageCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key_id, day) DO UPDATE SET tenant = excluded.tenant,
			accepted = excluded.accepted, refused = excluded.refused,
			last_used_at = excluded.last_used_at, last_ip = excluded.last_ip,
			last_user_agent = excluded.last_user_agent, routes = excluded.routes`,
		u.KeyID, u.Tenant, fmtTime(u.Day), u.Accepted, string(refused), fmtTime(u.LastUsedAt),
		u.LastIP, u.LastUserAgent, string(routes))
	if err != nil {
		return err
	}
	if d.LastUsedAt.IsZero() {
		return nil
	}
	// No change is published: usage flushes are frequent and caches do not
	// hold last-use times.
	_, err = t.exec(ctx, `UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		fmtTime(d.LastUsedAt), d.KeyID, fmtTime(d.LastUsedAt))
	return err
}

// mergeUsage adds a delta to a stored day (the zero UsageDay if none).
func mergeUsage(u store.UsageDay, d store.UsageDelta) store.UsageDay {
	u.KeyID, u.Tenant = d.KeyID, d.Tenant
	u.Accepted += d.Accepted
	for code, n := range d.Refused {
		if u.Refused == nil {
			u.Refused = map[string]int64{}
		}
		u.Refused[code] += n
	}
	if !d.LastUsedAt.Before(u.LastUsedAt) && !d.LastUsedAt.IsZero() {
		u.LastUsedAt, u.LastIP, u.LastUserAgent = d.LastUsedAt.UTC(), d.LastIP, d.LastUserAgent
	}
	counts := map[string]int64{}
	for _, r := range u.Routes {
		counts[r.Route] += r.Count
	}
	for _, r := range d.Routes {
		counts[r.Route] += r.Count
	}
	u.Routes = u.Routes[:0]
	for route, n := range counts {
		u.Routes = append(u.Routes, store.RouteCount{Route: route, Count: n})
	}
	slices.SortFunc(u.Routes, func(a, b store.RouteCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Route, b.Route))
	})
	if len(u.Routes) > maxRoutes {
		u.Routes = u.Routes[:maxRoutes]
	}
	return u
}

func (t *tx) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := t.exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, blob(value), fmtTime(t.now()))
	if err != nil {
		return fmt.Errorf("put setting %q: %w", name, err)
	}
	t.changed(store.ChangeSetting, name, "")
	return nil
}

func outboxArgs(m store.OutboxMessage) []any {
	return []any{m.ID, m.Tenant, m.Topic, blob(m.Payload), fmtTime(m.CreatedAt),
		fmtTime(m.NextAttemptAt), m.Attempts, m.LastError, nullTime(m.DeliveredAt)}
}

func (t *tx) EnqueueOutbox(ctx context.Context, m store.OutboxMessage) error {
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
		outboxArgs(m)...)
	if err != nil {
		return fmt.Errorf("enqueue outbox message %q: %w", m.ID, err)
	}
	return nil
}

func (t *tx) UpdateOutbox(ctx context.Context, id string, fn func(store.OutboxMessage) (store.OutboxMessage, error)) error {
	old, err := t.getOutbox(ctx, id)
	if err != nil {
		return err
	}
	m, err := fn(old)
	if err != nil {
		return err
	}
	if m.ID != id {
		return errIDChanged("outbox message", id, m.ID)
	}
	args := outboxArgs(m)
	_, err = t.exec(ctx, `UPDATE outbox SET tenant = ?, topic = ?, payload = ?, created_at = ?,
		next_attempt_at = ?, attempts = ?, last_error = ?, delivered_at = ? WHERE id = ?`,
		append(args[1:], id)...)
	if err != nil {
		return fmt.Errorf("update outbox message %q: %w", id, err)
	}
	return nil
}

func (t *tx) DeleteDeliveredOutbox(ctx context.Context, before time.Time) (int, error) {
	res, err := t.tx.ExecContext(ctx,
		`DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?`, fmtTime(before))
	if err != nil {
		return 0, fmt.Errorf("delete delivered outbox messages: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete delivered outbox messages: %w", err)
	}
	return int(n), nil
}
