package sqlstore

import (
	"context"

	"github.com/keyshift/keyshift/internal/store"
)

const tokenUsageCols = `tenant, client_id, day, requests`

func scanTokenUsage(d Dialect, sc Row) (store.TokenUsageDay, error) {
	var u store.TokenUsageDay
	err := sc.Scan(&u.Tenant, &u.ClientID, d.TimeDest(&u.Day), &u.Requests)
	u.Day = u.Day.UTC()
	return u, err
}

// ListTokenUsage implements store.TrafficReader. Adding token usage is each
// backend's bulk path.
func (r Reader) ListTokenUsage(ctx context.Context, f store.TokenUsageFilter) ([]store.TokenUsageDay, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(!f.Since.IsZero(), "day >= ?", r.d.Time(f.Since))
	return list(ctx, r.q, r.d, "token usage", scanTokenUsage,
		`SELECT `+tokenUsageCols+` FROM token_usage_days`+w.sql()+` ORDER BY day, tenant, client_id`, w.args...)
}
