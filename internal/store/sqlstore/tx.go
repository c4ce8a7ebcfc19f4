package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Txn is one write transaction of a backend's engine.
type Txn interface {
	Querier
	// Tx returns what fn runs against: w, plus the engine's bulk paths.
	Tx(w *Writer) store.Tx
	// CopyFrom inserts rows (values in columns order, encoded for the
	// dialect) into table in bulk: PostgreSQL's COPY, one prepared INSERT
	// on SQLite.
	CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error
	// Commit makes the changes durable and, where instances share the
	// database, announces them to the others. A commit whose outcome is
	// unknown returns an error matching store.ErrOutcomeUnknown.
	Commit(ctx context.Context, changes []store.Change) error
	// End releases what Begin took (the writer, the connection), rolling
	// back unless Commit was called. It runs once, in every case, after a
	// commit's changes were published to this instance's subscribers.
	End(ctx context.Context)
}

// Transactor runs store transactions over a backend's engine: one place
// for the store deadline, rollback on every exit, publication in commit
// order and the read-your-writes wait.
type Transactor struct {
	Name    string // the backend, in messages
	Dialect Dialect
	// Begin starts a write transaction; ctx carries the store deadline.
	Begin   func(ctx context.Context) (Txn, error)
	Feed    *store.Feed
	Log     *slog.Logger
	Now     func() time.Time
	Timeout time.Duration
}

// Tx runs fn in one write transaction and publishes its changes after the
// commit. The whole transaction runs under the store's deadline
// (store.Bound): past it the transaction is rolled back and Tx fails with
// store.ErrUnavailable. Tx returns once this instance's caches have applied
// the changes (bounded by store.DefaultApplyWait), so that the write is
// seen by the next request.
func (t *Transactor) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	tctx, cancel := store.Bound(ctx, t.Timeout)
	defer cancel()
	txn, err := t.Begin(tctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", t.Name, store.Unavailable(tctx, t.Dialect.MapErr(err)))
	}
	ended := false
	defer func() {
		// Also reached when fn panics or calls runtime.Goexit (t.Fatal).
		if !ended {
			txn.End(ctx)
		}
	}()
	w := newWriter(txn, t.Dialect, t.Now)
	if err := fn(txn.Tx(w)); err != nil {
		return store.Unavailable(tctx, err)
	}
	if err := txn.Commit(tctx, w.Changes()); err != nil {
		if errors.Is(err, store.ErrOutcomeUnknown) {
			// The other instances hear of a commit that happened, so
			// this one must reload too.
			t.Feed.Publish(store.Change{Kind: store.ChangeResync})
		}
		return err
	}
	// Before End: a Subscribe after Tx returns must not receive these
	// changes, and where End releases the one writer, changes reach
	// subscribers in commit order.
	seq := t.Feed.Publish(w.Changes()...)
	ended = true
	txn.End(ctx)
	// After End: waiting must not hold other writers, and a cache may
	// read while it applies.
	if err := t.Feed.AwaitApplied(ctx, seq); err != nil && ctx.Err() == nil {
		t.Log.WarnContext(ctx, t.Name+": write acknowledged before this instance's caches applied it", "err", err)
	}
	return nil
}
