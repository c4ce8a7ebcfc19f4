package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// dialect is PostgreSQL's side of sqlstore: native timestamptz, text[]
// and jsonb columns, which pgx encodes and decodes itself, and row locks
// for read-modify-writes, since instances write concurrently.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) MapErr(err error) error { return mapErr(err) }
func (dialect) ForUpdate() string      { return " FOR UPDATE" }
func (dialect) InsertOrder() string    { return "seq" }

func (dialect) Time(t time.Time) any           { return t }
func (dialect) TimeDest(p *time.Time) any      { return p }
func (dialect) NullTime(t *time.Time) any      { return t }
func (dialect) NullTimeDest(p **time.Time) any { return p }
func (dialect) StringsDest(p *[]string) any    { return p }
func (dialect) JSON(v any) (any, error)        { return v, nil }
func (dialect) JSONDest(v any) any             { return v }

// Strings stores nil as an empty array in NOT NULL columns.
func (dialect) Strings(s []string) (any, error) {
	if s == nil {
		return []string{}, nil
	}
	return s, nil
}

// maxRebound bounds the rebinder's cache; query shapes are few (filters
// only add fixed clauses), so the bound is a guard, not a limit reached in
// practice.
const maxRebound = 1024

// rebinder numbers a query's "?" placeholders as $1, $2, … once per
// distinct query and keeps the result, so sqlstore's queries are written
// once for both engines and no call rewrites its query.
type rebinder struct {
	done sync.Map // query → rebound query
	n    atomic.Int64
}

func (r *rebinder) rebind(query string) string {
	if v, ok := r.done.Load(query); ok {
		return v.(string)
	}
	out := rebind(query)
	if r.n.Load() < maxRebound {
		if _, loaded := r.done.LoadOrStore(query, out); !loaded {
			r.n.Add(1)
		}
	}
	return out
}

// rebind numbers the "?" placeholders of query, skipping quoted text.
func rebind(query string) string {
	if strings.IndexByte(query, '?') < 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// querier is what reads need: the pool outside a transaction, the
// transaction inside one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgQuerier adapts a pgx querier (the bounded pool or a transaction) to
// sqlstore.Querier.
type pgQuerier struct {
	q  querier
	rb *rebinder
}

func (p pgQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, p.rb.rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return p.q.Query(ctx, p.rb.rebind(query), args...)
}

func (p pgQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return p.q.QueryRow(ctx, p.rb.rebind(query), args...)
}
