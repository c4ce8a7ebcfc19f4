package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
)

// usageUpsert merges one delta into its key's day in a single statement:
// counters are added by the database, so flushes from any number of
// instances add up exactly without a read-modify-write.
const usageUpsert = `INSERT INTO usage_days AS u (key_id, tenant, day, accepted, refused,
	last_used_at, last_ip, last_user_agent, routes)
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
