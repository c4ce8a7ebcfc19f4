package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// tx implements store.Tx: sqlstore's writes, plus SQLite's usage merges
// (keys_write.go, traffic.go), which run on the transaction directly.
type tx struct {
	*sqlstore.Writer
	tx *sql.Tx
}

// Every part of store.Tx (KeyTx, UserTx, GrantTx, TrafficTx) with it.
var _ store.Tx = (*tx)(nil)

// writeTxn is a transaction on the one writer connection, begun with
// BEGIN IMMEDIATE; it holds the write semaphore until End.
type writeTxn struct {
	sqlQuerier
	s         *Store
	conn      *sql.Conn
	tx        *sql.Tx
	committed bool
	view      tx // what Tx returns, allocated with the transaction
}

// begin takes the writer and begins a transaction on it. ctx carries the
// store's deadline.
func (s *Store) begin(ctx context.Context) (sqlstore.Txn, error) {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		<-s.wsem
		return nil, err
	}
	fail := func(err error) (sqlstore.Txn, error) {
		_ = conn.Close()
		<-s.wsem
		return nil, err
	}
	// BEGIN IMMEDIATE waits for another process's write lock for at most
	// busy_timeout: make that what is left of the deadline. Usually that is
	// the store timeout already, and no statement is needed.
	if dl, ok := ctx.Deadline(); ok {
		want := max(time.Until(dl), time.Millisecond).Truncate(time.Millisecond)
		if d := s.busy - want; d > 50*time.Millisecond || d < -50*time.Millisecond {
			if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", want.Milliseconds())); err != nil {
				return fail(fmt.Errorf("set busy timeout: %w", err))
			}
			s.busy = want
		}
	}
	sqltx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	return &writeTxn{sqlQuerier: sqlQuerier{sqltx}, s: s, conn: conn, tx: sqltx}, nil
}

func (t *writeTxn) Tx(w *sqlstore.Writer) store.Tx {
	t.view = tx{Writer: w, tx: t.tx}
	return &t.view
}

// CopyFrom inserts rows with one statement prepared for them all: SQLite
// spends more compiling an INSERT than running it.
func (t *writeTxn) CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO `+table+` (`+strings.Join(columns, ", ")+`)
		VALUES (?`+strings.Repeat(", ?", len(columns)-1)+`)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return nil
}

func (t *writeTxn) Commit(ctx context.Context, _ []store.Change) error {
	t.committed = true
	if err := t.tx.Commit(); err != nil {
		// A failed COMMIT can leave SQLite's transaction open on the one
		// writer connection; end it so later transactions can begin.
		_, _ = t.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("sqlite: commit: %w", store.Unavailable(ctx, mapErr(err)))
	}
	return nil
}

func (t *writeTxn) End(ctx context.Context) {
	if !t.committed {
		if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			t.s.log.ErrorContext(ctx, "sqlite rollback failed", "err", err)
		}
	}
	_ = t.conn.Close()
	<-t.s.wsem
}
