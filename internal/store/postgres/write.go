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

// tx implements store.Tx: sqlstore's writes, plus PostgreSQL's bulk paths
// (keys_write.go, traffic.go), which run on the transaction directly.
type tx struct {
	*sqlstore.Writer
	tx pgx.Tx
}

// Every part of store.Tx (KeyTx, UserTx, GrantTx, TrafficTx) with it.
var _ store.Tx = (*tx)(nil)

// pgTxn is one transaction on a pooled connection.
//
// fn's statements get the caller's ctx, so the store's deadline is
// enforced on the connection instead: when it passes, the connection is
// closed under whatever is in flight, the transaction fails with
// store.ErrUnavailable, PostgreSQL rolls it back (at once, or after
// idle_in_transaction_session_timeout when the network is frozen) and the
// pool discards the connection. The one ambiguous case left is a COMMIT
// sent whose answer is lost: that COMMIT may have been applied, and is
// reported as store.ErrOutcomeUnknown.
type pgTxn struct {
	pgQuerier
	s            *Store
	tx           pgx.Tx
	stopDeadline func() bool
	committed    bool
	view         tx // what Tx returns, allocated with the transaction
}

// begin starts a READ COMMITTED transaction; ctx carries the store's deadline.
func (s *Store) begin(ctx context.Context) (sqlstore.Txn, error) {
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, err
	}
	netConn := ptx.Conn().PgConn().Conn()
	stop := context.AfterFunc(ctx, func() { _ = netConn.Close() })
	return &pgTxn{pgQuerier: pgQuerier{q: ptx, rb: s.rb}, s: s, tx: ptx, stopDeadline: stop}, nil
}

func (t *pgTxn) Tx(w *sqlstore.Writer) store.Tx {
	t.view = tx{Writer: w, tx: t.tx}
	return &t.view
}

// CopyFrom inserts rows with COPY, at a fraction of the round trips of one
// INSERT each.
func (t *pgTxn) CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error {
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

// Commit announces the changes and commits, unless too little time is left
// for the answer to come back.
func (t *pgTxn) Commit(ctx context.Context, changes []store.Change) error {
	msgs, err := payloads(t.s.instance, changes)
	if err != nil {
		return fmt.Errorf("postgres: encode changes: %w", err)
	}
	for _, m := range msgs {
		if _, err := t.tx.Exec(ctx, `SELECT pg_notify($1, $2)`, t.s.channel, m); err != nil {
			return fmt.Errorf("postgres: notify: %w", store.Unavailable(ctx, mapErr(err)))
		}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < commitReserve(t.s.timeout) {
		return fmt.Errorf("postgres: commit: %w: too little time left before the deadline", store.ErrUnavailable)
	}
	t.committed = true
	err = t.tx.Commit(ctx)
	t.stopDeadline()
	if err != nil {
		err = store.Unavailable(ctx, mapErr(err))
		// A commit cut off by a broken connection may have happened.
		if errors.Is(err, store.ErrUnavailable) {
			t.s.log.WarnContext(ctx, "postgres: commit outcome unknown: the connection failed after COMMIT was sent", "err", err)
			return fmt.Errorf("postgres: commit: %w: %w", store.ErrOutcomeUnknown, err)
		}
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// End rolls back an uncommitted transaction, which also returns the
// connection to the pool (or drops it when the deadline closed it).
func (t *pgTxn) End(ctx context.Context) {
	if t.committed {
		return
	}
	closed := !t.stopDeadline()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := t.tx.Rollback(rctx); err != nil && !closed && !errors.Is(err, pgx.ErrTxClosed) {
		t.s.log.WarnContext(ctx, "postgres rollback failed", "err", err)
	}
}
