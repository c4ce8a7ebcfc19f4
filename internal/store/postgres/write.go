package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// tx implements store.Tx. It records the changes it makes so that Store.Tx
// can announce them with the commit.
type tx struct {
	*sqlstore.Writer
	reader
	tx  pgx.Tx
	now func() time.Time
}

var _ store.Tx = (*tx)(nil)

func (t *tx) changed(kind store.ChangeKind, id, tenant string) { t.Changed(kind, id, tenant) }

// exec runs a write and reports whether it touched a row.
func (t *tx) exec(ctx context.Context, query string, args ...any) (bool, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() > 0, nil
}

// stamp fills zero creation and update times from the clock.
func (t *tx) stamp(created, updated *time.Time) {
	if created.IsZero() {
		*created = t.now()
	}
	if updated.IsZero() {
		*updated = *created
	}
}

// restamp moves the update time to now when fn left it unchanged.
func (t *tx) restamp(old time.Time, updated *time.Time) {
	if updated.Equal(old) {
		*updated = t.now()
	}
}

// deleteReturning runs a DELETE … RETURNING of one text column and reports
// ErrNotFound when no row went.
func (t *tx) deleteReturning(ctx context.Context, what, id, query string) (string, error) {
	var out string
	err := t.tx.QueryRow(ctx, query, id).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("delete %s %q: %w", what, id, mapErr(err))
	}
	return out, nil
}

func errIDChanged(what, from, to string) error {
	return fmt.Errorf("update %s %q: id changed to %q", what, from, to)
}

// strs stores nil as an empty array in NOT NULL columns.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// blob stores nil as empty bytes in NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
