// Package postgres is keyshift's shared storage backend: PostgreSQL (or a
// Postgres-compatible engine) reached through a pgx connection pool, so that
// several stateless keyshift instances can serve from one database.
//
// Transactions run at READ COMMITTED; every Update* locks its row with
// SELECT … FOR UPDATE before calling fn, so concurrent read-modify-writes
// from any instance queue instead of losing updates. Usage counters are
// merged by the upsert itself. Committed changes reach every instance's
// subscribers over LISTEN/NOTIFY (see listen.go), with a periodic
// ChangeResync as a backstop.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// Defaults applied when the DSN does not set them.
const (
	// DefaultResyncEvery is how often subscribers are told to reload
	// everything, bounding how long a missed notification can go unnoticed.
	DefaultResyncEvery      = 30 * time.Second
	defaultConnectTimeout   = 5 * time.Second
	defaultStatementTimeout = "30s"
)

// Options configures a Store.
type Options struct {
	// Logger receives migration, listener and maintenance messages; nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock for default timestamps; nil means time.Now.
	Now func() time.Time
	// FeedBuffer is how many changes a subscriber may lag behind before it is
	// sent a ChangeResync; 0 means store.DefaultFeedBuffer.
	FeedBuffer int
	// ResyncEvery is the period of the backstop ChangeResync; 0 means
	// DefaultResyncEvery.
	ResyncEvery time.Duration
	// Schema, when set, is created if missing and used as the search path;
	// otherwise the DSN's search_path (or the server default) applies.
	Schema string
	// Timeout bounds every read and every transaction (pool acquisition
	// included) whose caller set no earlier deadline; 0 means
	// store.DefaultTimeout. Past it the operation fails with
	// store.ErrUnavailable and a transaction is rolled back.
	Timeout time.Duration
	// NoMigrate makes Open check that the schema is up to date instead of
	// migrating it, for operators who run `keyshift migrate up` themselves
	// (and give keyshift a role without DDL rights).
	NoMigrate bool
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ResyncEvery <= 0 {
		o.ResyncEvery = DefaultResyncEvery
	}
	if o.Timeout <= 0 {
		o.Timeout = store.DefaultTimeout
	}
}

// Store is a store.Store backed by PostgreSQL.
type Store struct {
	sqlstore.Reader
	rb       *rebinder
	bounded  boundedPool // the pool, each statement under the store's deadline
	txr      sqlstore.Transactor
	pool     *pgxpool.Pool
	feed     *store.Feed
	log      *slog.Logger
	now      func() time.Time
	timeout  time.Duration // of each read and each transaction
	channel  string        // NOTIFY channel, one per schema
	instance string        // tells this Store's notifications from others'
	stop     context.CancelFunc
	done     chan struct{} // closed when the listener has stopped
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), applies pending migrations under an advisory lock and starts the
// change listener. Pool size and timeouts follow the DSN (pool_max_conns,
// connect_timeout, statement_timeout, …), with defaults for the timeouts.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts.defaults()
	cfg, err := poolConfig(dsn, opts.Schema, opts.Timeout)
	if err != nil {
		return nil, err
	}
	if !opts.NoMigrate {
		if err := migrate(ctx, cfg.ConnConfig, opts.Schema, opts.Logger); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", mapErr(err))
	}
	if opts.NoMigrate {
		if err := checkVersion(ctx, pool); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	var schema string
	if err := (boundedPool{pool: pool, timeout: opts.Timeout}).QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: read current schema: %w", mapErr(err))
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	rb := &rebinder{}
	bp := boundedPool{pool: pool, timeout: opts.Timeout}
	s := &Store{
		Reader:   sqlstore.NewReader(pgQuerier{q: bp, rb: rb}, dialect{}),
		rb:       rb,
		bounded:  bp,
		pool:     pool,
		feed:     store.NewFeed(opts.FeedBuffer),
		log:      opts.Logger,
		now:      opts.Now,
		timeout:  opts.Timeout,
		channel:  channelName(schema),
		instance: rand.Text(),
		stop:     stop,
		done:     make(chan struct{}),
	}
	s.txr = sqlstore.Transactor{Name: "postgres", Dialect: dialect{}, Begin: s.begin, Feed: s.feed,
		Log: s.log, Now: s.now, Timeout: s.timeout}
	l := &listener{cfg: cfg.ConnConfig.Copy(), channel: s.channel, instance: s.instance, feed: s.feed,
		log: s.log, every: opts.ResyncEvery, timeout: opts.Timeout}
	// Writes made after Open returns must reach this instance's subscribers,
	// so the first LISTEN is done before returning.
	conn, err := l.connect(ctx)
	if err != nil {
		stop()
		pool.Close()
		return nil, err
	}
	go func() {
		defer close(s.done)
		l.run(lctx, conn)
	}()
	return s, nil
}

// channelName is the NOTIFY channel of a schema: instances share changes
// only when they share tables.
func channelName(schema string) string {
	if schema == "" || schema == "public" {
		return "keyshift_changes"
	}
	return "keyshift_changes." + schema
}

// poolConfig parses dsn and fills in keyshift's defaults; timeout is the
// store's (Options.Timeout, with its default).
func poolConfig(dsn, schema string, timeout time.Duration) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("postgres: invalid connection string")
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	params := cc.RuntimeParams
	if _, ok := params["statement_timeout"]; !ok {
		params["statement_timeout"] = defaultStatementTimeout
	}
	if _, ok := params["idle_in_transaction_session_timeout"]; !ok {
		params["idle_in_transaction_session_timeout"] = idleInTxTimeout(timeout)
	}
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = "keyshift"
	}
	if schema != "" {
		if len(schema) > 40 {
			return nil, fmt.Errorf("postgres: schema name %q longer than 40 bytes", schema)
		}
		params["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		utcTimes(c.TypeMap())
		return nil
	}
	cfg.HealthCheckPeriod = 15 * time.Second
	return cfg, nil
}

// utcTimes makes timestamptz values scan in UTC, as the store contract wants.
func utcTimes(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
		Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
}

// maxNotifyChanges bounds the changes one transaction announces one by one;
// a larger transaction (a tenant deletion, a bulk import) announces a
// resync instead of flooding the notification queue.
const maxNotifyChanges = 1000

// notifyChunk bounds one NOTIFY payload below PostgreSQL's 8000 bytes.
const notifyChunk = 7000

// notification is the JSON payload of one NOTIFY. Seq makes payloads of one
// transaction distinct, since PostgreSQL folds identical ones.
type notification struct {
	Instance string         `json:"i"`
	Seq      int            `json:"s"`
	Resync   bool           `json:"r,omitempty"`
	Changes  []store.Change `json:"c,omitempty"`
}

// payloads splits a transaction's changes into NOTIFY payloads.
func payloads(instance string, changes []store.Change) ([]string, error) {
	if len(changes) > maxNotifyChanges {
		b, err := json.Marshal(notification{Instance: instance, Resync: true})
		return []string{string(b)}, err
	}
	var out []string
	cur := notification{Instance: instance}
	size := 0
	flush := func() error {
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		out = append(out, string(b))
		cur = notification{Instance: instance, Seq: cur.Seq + 1}
		size = 0
		return nil
	}
	for _, c := range changes {
		n := len(c.ID) + len(c.Tenant) + len(c.Kind) + 40
		if size+n > notifyChunk && len(cur.Changes) > 0 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		cur.Changes = append(cur.Changes, c)
		size += n
	}
	if len(cur.Changes) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Tx runs fn in one READ COMMITTED transaction (see sqlstore.Transactor
// and pgTxn). Its changes are announced with pg_notify inside the
// transaction, so PostgreSQL delivers them to the other instances only if
// the commit succeeds; this instance's subscribers hear at once, and the
// listener skips this instance's own notifications.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.txr.Tx(ctx, fn)
}

// Subscribe returns the changes committed by any instance sharing this
// database schema, until ctx is done.
func (s *Store) Subscribe(ctx context.Context) <-chan store.Change {
	return s.feed.Subscribe(ctx)
}

// Follow subscribes a cache to the same changes; Tx waits for it to apply
// this instance's own.
func (s *Store) Follow(ctx context.Context) *store.Subscription {
	return s.feed.Follow(ctx)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := store.Bound(ctx, s.timeout)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// CheckIntegrity checks that the schema is at the version this binary
// expects and that every table can be read. PostgreSQL checks its own pages
// and constraints; there is no file-level check to run.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	if err := checkVersion(ctx, s.pool); err != nil {
		return fmt.Errorf("postgres: integrity check: %w", err)
	}
	for _, table := range []string{"tenants", "scopes", "clients", "signing_keys",
		"revocations", "audit_events", "api_keys", "usage_days", "token_usage_days", "settings", "outbox",
		"users", "auth_codes", "refresh_families", "device_codes", "sessions", "consents",
		"client_assertions"} {
		if _, err := s.pool.Exec(ctx, `SELECT 1 FROM `+table+` LIMIT 1`); err != nil {
			return fmt.Errorf("postgres: integrity check: read %s: %w", table, mapErr(err))
		}
	}
	return nil
}

// checkVersion fails unless the schema is at the latest embedded migration.
func checkVersion(ctx context.Context, pool *pgxpool.Pool) error {
	want, err := latestVersion()
	if err != nil {
		return err
	}
	var got int64
	err = pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version
		WHERE is_applied`).Scan(&got)
	if err != nil {
		return fmt.Errorf("schema version: %w", mapErr(err))
	}
	if got != want {
		return fmt.Errorf("schema version is %d, this keyshift needs %d: run `keyshift migrate up`", got, want)
	}
	return nil
}

// Close stops the listener, closes subscribers' channels and the pool.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	s.feed.Close()
	s.pool.Close()
	return nil
}
