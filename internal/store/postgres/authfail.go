package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var _ store.AuthFailures = (*Store)(nil)

// AddAuthFailures upserts the counts in one statement.
func (s *Store) AddAuthFailures(ctx context.Context, counts []store.AuthFailureCount) error {
	counts = mergeAuthFailures(counts)
	if len(counts) == 0 {
		return nil
	}
	inst, keys := make([]string, len(counts)), make([]string, len(counts))
	wins, ns := make([]int64, len(counts)), make([]int64, len(counts))
	for i, c := range counts {
		inst[i], keys[i], wins[i], ns[i] = c.Instance, c.Key, c.Window.Unix(), c.Count
	}
	_, err := s.bounded.Exec(ctx, `INSERT INTO auth_failures (instance, key, window_start, count)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
		ON CONFLICT (window_start, instance, key) DO UPDATE SET count = auth_failures.count + EXCLUDED.count`,
		inst, keys, wins, ns)
	if err != nil {
		return fmt.Errorf("postgres: add auth failures: %w", mapErr(err))
	}
	return nil
}

// DeleteAuthFailures removes counts of windows that began before before.
func (s *Store) DeleteAuthFailures(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.bounded.Exec(ctx, `DELETE FROM auth_failures WHERE window_start < $1`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("postgres: delete auth failures: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// mergeAuthFailures sums counts of the same row, which one upsert statement
// may not touch twice, and drops empty ones.
func mergeAuthFailures(counts []store.AuthFailureCount) []store.AuthFailureCount {
	type rowKey struct {
		inst, key string
		win       int64
	}
	idx := make(map[rowKey]int, len(counts))
	out := make([]store.AuthFailureCount, 0, len(counts))
	for _, c := range counts {
		if c.Count <= 0 {
			continue
		}
		k := rowKey{c.Instance, c.Key, c.Window.Unix()}
		if i, ok := idx[k]; ok {
			out[i].Count += c.Count
			continue
		}
		idx[k] = len(out)
		out = append(out, c)
	}
	return out
}
