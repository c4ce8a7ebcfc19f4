package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// maxRoutes is how many of a key's most used routes a usage day keeps.
const maxRoutes = 10

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
	cur, err := t.GetUsageDay(ctx, d.KeyID, day)
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
	_, err = t.tx.ExecContext(ctx, `INSERT INTO usage_days (key_id, tenant, day, accepted, refused,
		last_used_at, last_ip, last_user_agent, routes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key_id, day) DO UPDATE SET tenant = excluded.tenant,
			accepted = excluded.accepted, refused = excluded.refused,
			last_used_at = excluded.last_used_at, last_ip = excluded.last_ip,
			last_user_agent = excluded.last_user_agent, routes = excluded.routes`,
		u.KeyID, u.Tenant, fmtTime(u.Day), u.Accepted, string(refused), fmtTime(u.LastUsedAt),
		u.LastIP, u.LastUserAgent, string(routes))
	if err != nil {
		return mapErr(err)
	}
	if d.LastUsedAt.IsZero() {
		return nil
	}
	// No change is published: usage flushes are frequent and caches do not
	// hold last-use times.
	_, err = t.tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		fmtTime(d.LastUsedAt), d.KeyID, fmtTime(d.LastUsedAt))
	return mapErr(err)
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
