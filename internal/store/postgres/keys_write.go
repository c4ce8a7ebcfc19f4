package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
)

// apiKeyArgs returns a key's columns in apiKeyCols order.
func apiKeyArgs(k store.APIKey) []any {
	return []any{k.ID, k.Tenant, blob(k.Hash), k.Hint, k.Name, k.Description,
		k.Contact.Login, k.Contact.FirstName, k.Contact.LastName, k.Contact.Email,
		strs(k.Permissions), k.ExpiresAt, k.Owner, k.Purpose, k.Status, k.ConvertedToClient,
		k.DisableAt, k.Imported, k.CreatedAt, k.UpdatedAt, k.LastUsedAt}
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
	_, err := t.exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18, $19, $20, $21)`, apiKeyArgs(k)...)
	if err != nil {
		return apiKeyWriteErr("create", k, err)
	}
	t.changed(store.ChangeAPIKey, k.ID, k.Tenant)
	return nil
}

func (t *tx) UpdateAPIKey(ctx context.Context, id string, fn func(store.APIKey) (store.APIKey, error)) error {
	old, err := getOne(ctx, t.q, "api key", id, scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1 FOR UPDATE`, id)
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
	_, err = t.exec(ctx, `UPDATE api_keys SET tenant = $2, hash = $3, hint = $4, name = $5,
		description = $6, contact_login = $7, contact_first_name = $8, contact_last_name = $9,
		contact_email = $10, permissions = $11, expires_at = $12, owner = $13, purpose = $14,
		status = $15, converted_to_client = $16, disable_at = $17, imported = $18,
		created_at = $19, updated_at = $20, last_used_at = $21 WHERE id = $1`, apiKeyArgs(k)...)
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
	tenant, err := t.deleteReturning(ctx, "api key", id,
		`DELETE FROM api_keys WHERE id = $1 RETURNING tenant`)
	if err != nil {
		return err
	}
	t.changed(store.ChangeAPIKey, id, tenant)
	return nil
}

// usageUpsert merges one delta into its key's day in a single statement:
// counters are added by the database, so flushes from any number of
// instances add up exactly without a read-modify-write.
const usageUpsert = `INSERT INTO usage_days AS u (` + usageCols + `)
	VALUES ($1, $2, $3, $4, ks_add_counts('{}', $5), $6, $7, $8, ks_merge_routes('[]', $9))
	ON CONFLICT (key_id, day) DO UPDATE SET
		tenant = EXCLUDED.tenant,
		accepted = u.accepted + EXCLUDED.accepted,
		refused = ks_add_counts(u.refused, EXCLUDED.refused),
		routes = ks_merge_routes(u.routes, EXCLUDED.routes),
		last_ip = CASE WHEN $10 AND EXCLUDED.last_used_at >= u.last_used_at
			THEN EXCLUDED.last_ip ELSE u.last_ip END,
		last_user_agent = CASE WHEN $10 AND EXCLUDED.last_used_at >= u.last_used_at
			THEN EXCLUDED.last_user_agent ELSE u.last_user_agent END,
		last_used_at = CASE WHEN $10 AND EXCLUDED.last_used_at >= u.last_used_at
			THEN EXCLUDED.last_used_at ELSE u.last_used_at END`

// AddUsage merges each delta into its key's day and raises the key's
// LastUsedAt, sending every statement in one round trip. Deltas are applied
// in (key, day) order so that concurrent flushes lock rows in the same
// order and cannot deadlock.
func (t *tx) AddUsage(ctx context.Context, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	sorted := slices.Clone(deltas)
	slices.SortStableFunc(sorted, func(a, b store.UsageDelta) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), a.Day.Compare(b.Day))
	})
	var batch pgx.Batch
	var owner []int // index in sorted of each queued statement
	for i, d := range sorted {
		refused := d.Refused
		if refused == nil {
			refused = map[string]int64{}
		}
		routes := d.Routes
		if routes == nil {
			routes = []store.RouteCount{}
		}
		used := !d.LastUsedAt.IsZero()
		batch.Queue(usageUpsert, d.KeyID, d.Tenant, d.Day.UTC().Truncate(24*time.Hour), d.Accepted,
			refused, d.LastUsedAt.UTC(), d.LastIP, d.LastUserAgent, routes, used)
		owner = append(owner, i)
		if used {
			// No change is published: usage flushes are frequent and
			// caches do not hold last-use times.
			batch.Queue(`UPDATE api_keys SET last_used_at = $1
				WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, d.LastUsedAt, d.KeyID)
			owner = append(owner, i)
		}
	}
	br := t.tx.SendBatch(ctx, &batch)
	for _, i := range owner {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			d := sorted[i]
			return fmt.Errorf("add usage of key %q on %s: %w", d.KeyID, d.Day.Format(time.DateOnly), mapErr(err))
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("add usage: %w", mapErr(err))
	}
	return nil
}

func (t *tx) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := t.exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
		name, blob(value), t.now())
	if err != nil {
		return fmt.Errorf("put setting %q: %w", name, err)
	}
	t.changed(store.ChangeSetting, name, "")
	return nil
}

func outboxArgs(m store.OutboxMessage) []any {
	return []any{m.ID, m.Tenant, m.Topic, blob(m.Payload), m.CreatedAt, m.NextAttemptAt,
		m.Attempts, m.LastError, m.DeliveredAt}
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
	_, err := t.exec(ctx, `INSERT INTO outbox (`+outboxCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, outboxArgs(m)...)
	if err != nil {
		return fmt.Errorf("enqueue outbox message %q: %w", m.ID, err)
	}
	return nil
}

func (t *tx) UpdateOutbox(ctx context.Context, id string, fn func(store.OutboxMessage) (store.OutboxMessage, error)) error {
	old, err := getOne(ctx, t.q, "outbox message", id, scanOutbox,
		`SELECT `+outboxCols+` FROM outbox WHERE id = $1 FOR UPDATE`, id)
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
	_, err = t.exec(ctx, `UPDATE outbox SET tenant = $2, topic = $3, payload = $4,
		created_at = $5, next_attempt_at = $6, attempts = $7, last_error = $8,
		delivered_at = $9 WHERE id = $1`, outboxArgs(m)...)
	if err != nil {
		return fmt.Errorf("update outbox message %q: %w", id, err)
	}
	return nil
}

func (t *tx) DeleteDeliveredOutbox(ctx context.Context, before time.Time) (int, error) {
	tag, err := t.tx.Exec(ctx,
		`DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("delete delivered outbox messages: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// CreateAPIKeys creates many keys at once with COPY, for bulk loads such as
// the store copy; it is CreateAPIKey for each key, at a fraction of the
// round trips. It is not part of store.KeyTx.
func (t *tx) CreateAPIKeys(ctx context.Context, keys []store.APIKey) error {
	rows := make([][]any, len(keys))
	for i, k := range keys {
		t.stamp(&k.CreatedAt, &k.UpdatedAt)
		rows[i] = apiKeyArgs(k)
	}
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"api_keys"}, apiKeyColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("create %d api keys: %w", len(keys), mapErr(err))
	}
	for _, k := range keys {
		t.changed(store.ChangeAPIKey, k.ID, k.Tenant)
	}
	return nil
}

// apiKeyColumns is apiKeyCols as a list, for COPY.
var apiKeyColumns = []string{"id", "tenant", "hash", "hint", "name", "description",
	"contact_login", "contact_first_name", "contact_last_name", "contact_email", "permissions",
	"expires_at", "owner", "purpose", "status", "converted_to_client", "disable_at", "imported",
	"created_at", "updated_at", "last_used_at"}
