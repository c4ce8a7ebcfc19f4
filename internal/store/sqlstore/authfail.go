package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// ListAuthFailures implements store.AuthFailures. Adding and deleting
// counts are each backend's: outside Tx, they need the engine's writer.
func (r Reader) ListAuthFailures(ctx context.Context, since time.Time, exceptInstance string) ([]store.AuthFailureCount, error) {
	rows, err := r.q.Query(ctx, `SELECT instance, key, window_start, count FROM auth_failures
		WHERE window_start >= ? AND instance <> ?`, since.Unix(), exceptInstance)
	if err != nil {
		return nil, fmt.Errorf("list auth failures: %w", r.d.MapErr(err))
	}
	defer rows.Close()
	var out []store.AuthFailureCount
	for rows.Next() {
		var c store.AuthFailureCount
		var win int64
		if err := rows.Scan(&c.Instance, &c.Key, &win, &c.Count); err != nil {
			return nil, fmt.Errorf("list auth failures: %w", r.d.MapErr(err))
		}
		c.Window = time.Unix(win, 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list auth failures: %w", r.d.MapErr(err))
	}
	return out, nil
}
