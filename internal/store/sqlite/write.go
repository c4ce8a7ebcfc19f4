package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// tx implements store.Tx. It records the changes it makes so that Store.Tx
// can publish them once the commit succeeded.
type tx struct {
	*sqlstore.Writer
	reader
	tx  *sql.Tx
	now func() time.Time
}

var _ store.Tx = (*tx)(nil)

func (t *tx) changed(kind store.ChangeKind, id, tenant string) { t.Changed(kind, id, tenant) }

// exec runs a write and reports whether it touched a row.
func (t *tx) exec(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, nil
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

// notFoundOr explains a failed DELETE … RETURNING: no row means not found.
func notFoundOr(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	return fmt.Errorf("delete %s %q: %w", what, id, mapErr(err))
}

func errIDChanged(what, from, to string) error {
	return fmt.Errorf("update %s %q: id changed to %q", what, from, to)
}
