package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyshift/keyshift/internal/store"
)

// querier is what reads need: the pool outside a transaction, the
// transaction inside one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reader implements store.Reader and store.KeyReader over a querier.
type reader struct{ q querier }

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// getOne runs a single-row query and decodes it, mapping no row to ErrNotFound.
func getOne[T any](ctx context.Context, q querier, what, id string,
	scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("get %s %q: %w", what, id, mapErr(err))
	}
	return v, nil
}

// list runs a query and decodes every row; it never returns a nil slice.
func list[T any](ctx context.Context, q querier, what string,
	scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, mapErr(err))
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, mapErr(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, mapErr(err))
	}
	return out, nil
}

// where builds a conjunction of optional conditions with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends cond, in which "?" stands for the next parameter, when ok.
func (w *where) add(ok bool, cond string, arg any) {
	if ok {
		w.args = append(w.args, arg)
		w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// nilIfEmpty returns nil for an empty slice so records read back equal to
// what was written with nil slices.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
