package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// AddTokenUsage adds each delta to its client's day. The counter is added
// by the upsert itself; write transactions are serialised anyway. The
// statement is prepared once per flush, which carries many rows.
func (t *tx) AddTokenUsage(ctx context.Context, deltas []store.TokenUsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO token_usage_days (tenant, client_id, day, requests) VALUES (?, ?, ?, ?)
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
