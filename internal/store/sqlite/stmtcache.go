package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStatements bounds the statement cache; query shapes are few
// (filters only add fixed clauses), so the bound is a guard, not a limit
// reached in practice.
const maxCachedStatements = 512

// stmtCache prepares each distinct query once per database handle. SQLite
// spends more time compiling a statement than running a key lookup or an
// import row, so re-preparing per call was the largest cost on those paths.
type stmtCache struct {
	db    *sql.DB
	stmts sync.Map // query → *sql.Stmt
	n     atomic.Int64
}

// get returns the prepared statement for query, or nil when it cannot be
// cached (the caller then runs the query unprepared and sees any error).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if v, ok := c.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	if c.n.Load() >= maxCachedStatements {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if v, loaded := c.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt)
	}
	c.n.Add(1)
	return st
}

func (c *stmtCache) close() {
	c.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
}

// dbQuerier runs queries on a pool through the cache.
type dbQuerier struct{ c *stmtCache }

func (q dbQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.c.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.c.db.ExecContext(ctx, query, args...)
}

func (q dbQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.c.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.c.db.QueryContext(ctx, query, args...)
}

func (q dbQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.c.db.QueryRowContext(ctx, query, args...)
}
