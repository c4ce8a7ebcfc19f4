package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// tokenUsageUpsert adds a whole flush in one statement: the database adds
// the counters, so flushes from any number of instances add up exactly.
// ON CONFLICT may touch a row once per statement, so the rows are merged
// per (tenant, day, client) first, and sorted so that concurrent flushes
// lock rows in the same order and cannot deadlock.
const tokenUsageUpsert = `INSERT INTO token_usage_days AS u (tenant, day, client_id, requests)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[])
	ON CONFLICT (tenant, day, client_id) DO UPDATE SET requests = u.requests + EXCLUDED.requests`

// AddTokenUsage implements store.TrafficTx with one statement per flush.
func (t *tx) AddTokenUsage(ctx context.Context, deltas []store.TokenUsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	rows := make([]store.TokenUsageDelta, 0, len(deltas))
	for _, d := range deltas {
		d.Day = d.Day.UTC().Truncate(24 * time.Hour)
		rows = append(rows, d)
	}
	slices.SortFunc(rows, compareTokenUsage)
	var tenants, clients []string
	var days []time.Time
	var requests []int64
	for i, d := range rows {
		if i > 0 && compareTokenUsage(rows[i-1], d) == 0 {
			requests[len(requests)-1] += d.Requests
			continue
		}
		tenants, days, clients = append(tenants, d.Tenant), append(days, d.Day), append(clients, d.ClientID)
		requests = append(requests, d.Requests)
	}
	if _, err := t.tx.Exec(ctx, tokenUsageUpsert, tenants, days, clients, requests); err != nil {
		return fmt.Errorf("add token usage of %d client days: %w", len(tenants), mapErr(err))
	}
	return nil
}

func compareTokenUsage(a, b store.TokenUsageDelta) int {
	return cmp.Or(strings.Compare(a.Tenant, b.Tenant), a.Day.Compare(b.Day), strings.Compare(a.ClientID, b.ClientID))
}
