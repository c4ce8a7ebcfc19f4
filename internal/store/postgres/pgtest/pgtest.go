// Package pgtest gives tests a PostgreSQL store on a fresh schema of the
// test database, dropped when the test ends.
//
// The database is named by env KEYSHIFT_TEST_POSTGRES (default
// DefaultDSN). When it is unreachable the test is skipped with a loud
// message, except when env CI is "true": there PostgreSQL is part of the
// test setup and the test fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store/postgres"
)

// DefaultDSN is the database scripts/test and CI provide.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the test database's DSN, skipping or failing the test when
// the database is unreachable.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("KEYSHIFT_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL test database unreachable in CI: %v", err)
		}
		t.Skipf("!!! SKIPPING: PostgreSQL test database unreachable (%v); "+
			"start it or set KEYSHIFT_TEST_POSTGRES !!!", err)
	}
	_ = conn.Close(ctx)
	return dsn
}

// NewSchema creates an empty schema named ks_test_<random>, dropped with
// everything in it when the test ends.
func NewSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "ks_test_" + hex.EncodeToString(b)
	Exec(t, dsn, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { Exec(t, dsn, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
	return schema
}

// Exec runs one statement on a connection of its own.
func Exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// OpenSchema opens a store on schema, closed when the test ends.
func OpenSchema(t testing.TB, dsn, schema string, opts postgres.Options) *postgres.Store {
	t.Helper()
	opts.Schema = schema
	s, err := postgres.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("pgtest: Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Open opens a store on a fresh schema.
func Open(t testing.TB, opts postgres.Options) *postgres.Store {
	t.Helper()
	dsn := DSN(t)
	return OpenSchema(t, dsn, NewSchema(t, dsn), opts)
}

// tables lists every table of keyshift's schema, children first.
var tables = []string{"auth_codes", "refresh_families", "device_codes", "sessions",
	"consents", "client_assertions", "users", "clients", "api_keys", "tenants", "scopes",
	"signing_keys", "revocations", "audit_events", "usage_days", "token_usage_days", "settings", "outbox"}

// Reuse returns a function that opens a store on one migrated schema,
// emptied for each call: much cheaper than a fresh schema per test when a
// suite opens a store per test. Stores it opened must be closed (they are,
// at the end of the test that opened them) before the next call.
func Reuse(t testing.TB, opts postgres.Options) func(t testing.TB) *postgres.Store {
	t.Helper()
	dsn := DSN(t)
	schema := NewSchema(t, dsn)
	if _, err := postgres.MigrateUp(context.Background(), dsn, postgres.Options{Schema: schema}); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return func(t testing.TB) *postgres.Store {
		t.Helper()
		// DELETE is much cheaper than TRUNCATE on the few rows a test leaves.
		var del strings.Builder
		for _, table := range tables {
			del.WriteString(`DELETE FROM ` + schema + `.` + table + `;`)
		}
		Exec(t, dsn, del.String())
		o := opts
		o.NoMigrate = true
		return OpenSchema(t, fast(dsn), schema, o)
	}
}

// fast turns off waiting for the WAL flush at commit: tests need no
// durability, and a suite of short transactions runs several times faster.
func fast(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " synchronous_commit=off"
	}
	if strings.Contains(dsn, "?") {
		return dsn + "&synchronous_commit=off"
	}
	return dsn + "?synchronous_commit=off"
}
