package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// dialect is SQLite's side of sqlstore: times are fixed-width RFC 3339
// text, lists and JSON are JSON text, and no row lock is needed because
// every write transaction holds the one writer (BEGIN IMMEDIATE).
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) MapErr(err error) error { return mapErr(err) }
func (dialect) ForUpdate() string      { return "" }
func (dialect) InsertOrder() string    { return "rowid" }

func (dialect) Time(t time.Time) any { return fmtTime(t) }

func (dialect) TimeDest(p *time.Time) any { return (*timeDest)(p) }

func (dialect) NullTime(t *time.Time) any { return nullTime(t) }

func (dialect) NullTimeDest(p **time.Time) any { return nullTimeDest{p} }

func (dialect) Strings(s []string) (any, error) { return jsonText(s) }

func (dialect) StringsDest(p *[]string) any { return (*stringsDest)(p) }

func (dialect) JSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return string(b), nil
}

func (dialect) JSONDest(v any) any { return jsonDest{v} }

// timeDest scans a stored time text into a time.Time.
type timeDest time.Time

func (d *timeDest) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("stored time is %T, want text", src)
	}
	t, err := parseTime(s)
	*d = timeDest(t)
	return err
}

// nullTimeDest scans a nullable stored time text into a *time.Time; a
// struct of one pointer, it is boxed without allocating.
type nullTimeDest struct{ p **time.Time }

func (d nullTimeDest) Scan(src any) error {
	if src == nil {
		*d.p = nil
		return nil
	}
	t := new(time.Time)
	if err := (*timeDest)(t).Scan(src); err != nil {
		return err
	}
	*d.p = t
	return nil
}

// stringsDest scans a JSON array text into a []string; being a pointer
// conversion, it costs no allocation per column.
type stringsDest []string

func (d *stringsDest) Scan(src any) error { return jsonDest{(*[]string)(d)}.Scan(src) }

// jsonDest scans a JSON text column into v.
type jsonDest struct{ v any }

func (d jsonDest) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return fmt.Errorf("stored JSON is %T, want text", src)
	}
	if err := json.Unmarshal(b, d.v); err != nil {
		return fmt.Errorf("decode stored JSON: %w", err)
	}
	return nil
}

// querier is what reads need: the read pool outside a transaction, the
// transaction inside one.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlQuerier adapts a database/sql querier (the cached read pool or a
// transaction) to sqlstore.Querier.
type sqlQuerier struct{ q querier }

func (s sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (s sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return s.q.QueryRowContext(ctx, query, args...)
}

// sqlRows is *sql.Rows whose Close error, which Err already reports, is dropped.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
