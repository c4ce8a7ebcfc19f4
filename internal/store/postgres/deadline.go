package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyshift/keyshift/internal/store"
)

// boundedPool is the querier of reads outside a transaction: each statement
// runs under the store's deadline (store.Bound), pool acquisition included,
// so a database that accepts bytes but answers none ends the read with
// ErrUnavailable instead of holding the request. pgx closes a connection
// whose statement ran out of time, and the pool discards it.
type boundedPool struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

func (b boundedPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := store.Bound(ctx, b.timeout)
	defer cancel()
	tag, err := b.pool.Exec(ctx, sql, args...)
	return tag, store.Unavailable(ctx, err)
}

func (b boundedPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := store.Bound(ctx, b.timeout)
	rows, err := b.pool.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return nil, store.Unavailable(ctx, err)
	}
	return boundedRows{Rows: rows, ctx: ctx, cancel: cancel}, nil
}

func (b boundedPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := store.Bound(ctx, b.timeout)
	return boundedRow{row: b.pool.QueryRow(ctx, sql, args...), ctx: ctx, cancel: cancel}
}

// boundedRows releases its deadline when closed; every caller closes rows.
type boundedRows struct {
	pgx.Rows
	ctx    context.Context
	cancel context.CancelFunc
}

func (r boundedRows) Close() {
	r.Rows.Close()
	r.cancel()
}

func (r boundedRows) Err() error { return store.Unavailable(r.ctx, r.Rows.Err()) }

// boundedRow releases its deadline once scanned.
type boundedRow struct {
	row    pgx.Row
	ctx    context.Context
	cancel context.CancelFunc
}

func (r boundedRow) Scan(dest ...any) error {
	defer r.cancel()
	return store.Unavailable(r.ctx, r.row.Scan(dest...))
}

// commitReserve is the least time a transaction must have left for keyshift
// to send COMMIT. A COMMIT sent and then cut off by the deadline leaves the
// outcome unknown (PostgreSQL may have committed); refusing to send it when
// the answer could hardly come back in time keeps that window small.
func commitReserve(timeout time.Duration) time.Duration {
	return min(timeout/10, 500*time.Millisecond)
}

// idleInTxTimeout is the server-side idle_in_transaction_session_timeout
// for keyshift's sessions: a little longer than any transaction may last
// (the store timeout), so a transaction whose client was cut off mid-way
// (a frozen network) is aborted by PostgreSQL itself and its row locks
// released, instead of waiting to be finished by bytes that arrive late.
func idleInTxTimeout(timeout time.Duration) string {
	return strconv.FormatInt((timeout+2*time.Second).Milliseconds(), 10) + "ms"
}
