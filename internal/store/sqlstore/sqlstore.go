// Package sqlstore holds keyshift's SQL storage written once: the queries,
// the row scanners, the column codecs and the cascades that the sqlite and
// postgres backends share. A backend supplies a Querier over its driver and
// a Dialect holding only what genuinely differs between the engines: the
// row lock of a read-modify-write, how times and lists are stored, and how
// driver errors map onto the store's sentinels.
//
// Queries are written with "?" placeholders and their arguments in order.
// SQLite takes them as they are; the postgres Querier numbers them once per
// distinct query and keeps the result, so no query is rewritten per call.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Row is one result row: a *sql.Row or a pgx.Row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set; pgx.Rows satisfies it, *sql.Rows through a wrapper
// whose Close drops the error Err already reports.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Querier runs statements: a backend's read pool outside a transaction, the
// transaction inside one. A query that finds no row returns an error that
// matches sql.ErrNoRows (pgx.ErrNoRows does).
type Querier interface {
	// Exec runs a statement and returns the number of rows it touched.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Dialect is what differs between the SQL engines behind one store. The
// encoders turn a value into a statement argument for its column; the
// *Dest methods return a scan destination that decodes the column into p.
type Dialect interface {
	// MapErr turns a driver error into the store's sentinel errors
	// (ErrAlreadyExists, ErrConflict, ErrNotFound, ErrUnavailable),
	// keeping the original in the chain; nil stays nil.
	MapErr(err error) error
	// ForUpdate is appended to the SELECT of a read-modify-write: the row
	// lock where writers run concurrently, "" where the transaction is the
	// only writer.
	ForUpdate() string
	// InsertOrder names the column that orders audit events of the same
	// instant by insertion.
	InsertOrder() string

	Time(t time.Time) any
	TimeDest(p *time.Time) any
	// NullTime encodes a nullable time column; nil is NULL.
	NullTime(t *time.Time) any
	// NullTimeDest decodes a nullable time column; NULL reads as nil.
	NullTimeDest(p **time.Time) any
	// Strings encodes a list column; nil is stored as an empty list.
	Strings(s []string) (any, error)
	// StringsDest decodes a list column; an empty list may read as
	// empty or nil (scanners normalise with nilIfEmpty).
	StringsDest(p *[]string) any
	// JSON encodes v for a JSON column.
	JSON(v any) (any, error)
	// JSONDest decodes a JSON column into v, a pointer.
	JSONDest(v any) any
}

// scanFunc decodes one row.
type scanFunc[T any] func(d Dialect, sc Row) (T, error)

// getOne runs a single-row query and decodes it, mapping no row to ErrNotFound.
func getOne[T any](ctx context.Context, q Querier, d Dialect, what, id string,
	scan scanFunc[T], query string, args ...any) (T, error) {
	v, err := scan(d, q.QueryRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("get %s %q: %w", what, id, d.MapErr(err))
	}
	return v, nil
}

// list runs a query and decodes every row; it never returns a nil slice.
func list[T any](ctx context.Context, q Querier, d Dialect, what string,
	scan scanFunc[T], query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, d.MapErr(err))
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(d, rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, d.MapErr(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, d.MapErr(err))
	}
	return out, nil
}

// where builds a conjunction of optional conditions.
type where struct {
	conds []string
	args  []any
}

// add appends cond, with one "?" for arg, when ok.
func (w *where) add(ok bool, cond string, arg any) {
	if ok {
		w.conds = append(w.conds, cond)
		w.args = append(w.args, arg)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func scanString(_ Dialect, sc Row) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

// nilIfEmpty returns nil for an empty slice so records read back equal to
// what was written with nil slices.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
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
