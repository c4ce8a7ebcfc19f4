// Package sqlite is keyshift's embedded storage backend: one SQLite file in
// WAL mode, driven by the pure-Go modernc.org/sqlite driver.
//
// Writes go through a single connection that begins every transaction with
// BEGIN IMMEDIATE, so concurrent writers queue in Go instead of failing with
// SQLITE_BUSY on a read-to-write lock upgrade; reads outside a transaction use
// a separate pool that WAL lets run beside the writer. synchronous=FULL makes
// every acknowledged commit survive a crash of the process or the machine.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configures a Store.
type Options struct {
	// Logger receives migration and maintenance messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock for default timestamps; nil means time.Now.
	Now func() time.Time
	// FeedBuffer is how many changes a subscriber may lag behind before it is
	// sent a ChangeResync; 0 means store.DefaultFeedBuffer.
	FeedBuffer int
	// Timeout bounds every read and every transaction whose caller set no
	// earlier deadline, waiting for another process's lock included; 0
	// means store.DefaultTimeout. Past it the operation fails with
	// store.ErrUnavailable and a transaction is rolled back.
	Timeout time.Duration
}

// Store is a store.Store backed by one SQLite file.
type Store struct {
	sqlstore.Reader
	wdb *sql.DB // one connection; every write transaction runs on it
	rdb *sql.DB // read pool
	// rcache holds the read pool's prepared statements. Write transactions
	// prepare their own: the writer has one connection, held by the
	// transaction, so a pool-level prepare there would wait for itself.
	rcache  *stmtCache
	wsem    chan struct{}
	feed    *store.Feed
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	// busy is the writer connection's busy_timeout; read and set only
	// while holding wsem.
	busy time.Duration
	txr  sqlstore.Transactor
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = store.DefaultTimeout
	}
	wdb, err := sql.Open("sqlite", dsn(path, false, opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxIdleTime(0)
	wdb.SetConnMaxLifetime(0)

	if err := prepareRetry(ctx, wdb, opts.Logger); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	rdb, err := sql.Open("sqlite", dsn(path, true, opts.Timeout))
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)

	rcache := &stmtCache{db: rdb}
	s := &Store{
		Reader:  sqlstore.NewReader(sqlQuerier{dbQuerier{rcache}}, dialect{}),
		rcache:  rcache,
		wdb:     wdb,
		rdb:     rdb,
		wsem:    make(chan struct{}, 1),
		feed:    store.NewFeed(opts.FeedBuffer),
		log:     opts.Logger,
		now:     opts.Now,
		timeout: opts.Timeout,
		busy:    opts.Timeout, // from dsn
	}
	s.txr = sqlstore.Transactor{Name: "sqlite", Dialect: dialect{}, Begin: s.begin, Feed: s.feed,
		Log: s.log, Now: s.now, Timeout: s.timeout}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// dsn builds the driver's connection string. Each pragma is applied to every
// new connection of the pool. Waiting for another process's lock
// (busy_timeout) is bounded by the store's timeout, so a read blocked by a
// lock ends in store.ErrUnavailable within it.
func dsn(path string, readOnly bool, timeout time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", max(timeout.Milliseconds(), 1)))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	// SQLite decodes %XX in a file: URI; escape what would end the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	u := url.URL{Scheme: "file", Opaque: esc, RawQuery: q.Encode()}
	return u.String()
}

// prepare checks the journal mode and applies the embedded migrations.
func prepare(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(log))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			log.InfoContext(ctx, "sqlite migration applied",
				"version", r.Source.Version, "duration", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// prepareRetry runs prepare until it succeeds. When processes open a new
// file together, switching it to WAL can fail with SQLITE_BUSY without
// waiting, and goose, which has no lock for SQLite, fails the loser's
// migration once the winner's has committed. Each migration is its own
// transaction, so running them again is safe and finds less to do.
func prepareRetry(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	const attempts = 8
	for attempt := 1; ; attempt++ {
		err := prepare(ctx, db, log)
		if err == nil || attempt == attempts {
			return err
		}
		log.WarnContext(ctx, "sqlite open failed, retrying", "attempt", attempt, "err", err)
		select {
		case <-time.After(time.Duration(attempt) * 25 * time.Millisecond):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
}

// Tx runs fn in one write transaction and publishes its changes after the
// commit (see sqlstore.Transactor). Transactions are serialised; fn must
// not call s.Tx itself. The store's deadline covers waiting for the writer
// and for another process's lock.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.txr.Tx(ctx, fn)
}

// Subscribe returns the changes committed through this Store until ctx is done.
func (s *Store) Subscribe(ctx context.Context) <-chan store.Change {
	return s.feed.Subscribe(ctx)
}

// Follow subscribes a cache to the changes committed through this Store;
// Tx waits for it to apply them.
func (s *Store) Follow(ctx context.Context) *store.Subscription {
	return s.feed.Follow(ctx)
}

// Ping checks that both the writer and the read pool answer.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := store.Bound(ctx, s.timeout)
	defer cancel()
	for _, db := range []*sql.DB{s.rdb, s.wdb} {
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlite: ping: %w: %w", store.ErrUnavailable, err)
		}
	}
	return nil
}

// CheckIntegrity runs SQLite's integrity and foreign key checks.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	rows, err := s.rdb.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("sqlite: integrity check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			_ = rows.Close()
			return fmt.Errorf("sqlite: integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("sqlite: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlite: integrity check failed: %q", problems)
	}

	rows, err = s.rdb.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("sqlite: foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fkid int64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("sqlite: foreign key check: %w", err)
		}
		return fmt.Errorf("sqlite: foreign key check failed: row %d of %s references missing %s",
			rowid.Int64, table, parent)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: foreign key check: %w", err)
	}
	return nil
}

// Close closes subscribers' channels and the database.
func (s *Store) Close() error {
	s.feed.Close()
	s.rcache.close()
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}
