package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var (
	_ store.TrafficReader = (*Store)(nil)
	_ store.TrafficTx     = (*tx)(nil)
)

const tokenUsageCols = `tenant, client_id, day, requests`

func scanTokenUsage(sc scanner) (store.TokenUsageDay, error) {
	var u store.TokenUsageDay
	var day string
	if err := sc.Scan(&u.Tenant, &u.ClientID, &day, &u.Requests); err != nil {
		return u, err
	}
	var d decoder
	u.Day = d.time(day)
	return u, d.err
}

func (r reader) ListTokenUsage(ctx context.Context, f store.TokenUsageFilter) ([]store.TokenUsageDay, error) {
	var w where
	w.add(f.Tenant != "", "tenant = ?", f.Tenant)
	w.add(!f.Since.IsZero(), "day >= ?", fmtTime(f.Since))
	return list(ctx, r.q, "token usage", scanTokenUsage,
		`SELECT `+tokenUsageCols+` FROM token_usage_days`+w.sql()+` ORDER BY day, tenant, client_id`, w.args...)
}

// AddTokenUsage adds each delta to its client's day. The counter is added
// by the upsert itself; write transactions are serialised anyway. The
// statement is prepared once per flush, which carries many rows.
func (t *tx) AddTokenUsage(ctx context.Context, deltas []store.TokenUsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO token_usage_days (`+tokenUsageCols+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant, day, client_id) DO UPDATE SET requests = requests + excluded.requests`)
	if err != nil {
		return fmt.Errorf("add token usage: %w", mapErr(err))
	}
	defer st.Close()
	for _, d := range deltas {
		day := d.Day.UTC().Truncate(24 * time.Hour)
		if _, err := st.ExecContext(ctx, d.Tenant, d.ClientID, fmtTime(day), d.Requests); err != nil {
			return fmt.Errorf("add token usage of client %q on %s: %w", d.ClientID, day.Format(time.DateOnly), mapErr(err))
		}
	}
	return nil
}
