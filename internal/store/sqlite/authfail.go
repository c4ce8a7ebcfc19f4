package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var _ store.AuthFailures = (*Store)(nil)

// AddAuthFailures upserts the counts in one transaction on the writer.
func (s *Store) AddAuthFailures(ctx context.Context, counts []store.AuthFailureCount) error {
	if len(counts) == 0 {
		return nil
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: add auth failures: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add auth failures: %w", mapErr(err))
	}
	defer func() { _ = tx.Rollback() }()
	for _, c := range counts {
		if c.Count <= 0 {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_failures (instance, key, window_start, count)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (window_start, instance, key) DO UPDATE SET count = count + excluded.count`,
			c.Instance, c.Key, c.Window.Unix(), c.Count)
		if err != nil {
			return fmt.Errorf("sqlite: add auth failures: %w", mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add auth failures: %w", mapErr(err))
	}
	return nil
}

// DeleteAuthFailures removes counts of windows that began before before.
func (s *Store) DeleteAuthFailures(ctx context.Context, before time.Time) (int, error) {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("sqlite: delete auth failures: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM auth_failures WHERE window_start < ?`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete auth failures: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete auth failures: %w", err)
	}
	return int(n), nil
}
