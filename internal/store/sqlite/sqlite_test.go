package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
	"github.com/keyshift/keyshift/internal/store/storetest"
)

func openAt(t testing.TB, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openTemp(t testing.TB, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "keyshift.db"), opts)
}

func TestConformance(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return openTemp(t, sqlite.Options{}) })
}

func tx(t testing.TB, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Tx(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func createTenant(t testing.TB, s store.Store, id string) {
	t.Helper()
	tx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateTenant(ctx, store.Tenant{ID: id, Name: id, Status: store.StatusActive})
	})
}

// rawDB opens the file with a plain connection, bypassing the Store.
func rawDB(t *testing.T, path, query string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+query)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestOpen_File_IsWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyshift.db")
	openAt(t, path, sqlite.Options{})
	var mode string
	if err := rawDB(t, path, "").QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

func TestOpen_Reopen_KeepsDataAndSkipsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyshift.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	createTenant(t, s, "acme")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		s := openAt(t, path, sqlite.Options{})
		if _, err := s.GetTenant(t.Context(), "acme"); err != nil {
			t.Fatalf("GetTenant after reopen: %v", err)
		}
		if err := s.CheckIntegrity(t.Context()); err != nil {
			t.Fatalf("CheckIntegrity after reopen: %v", err)
		}
		_ = s.Close()
	}
	var versions int
	err = rawDB(t, path, "").QueryRow(
		"SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions)
	if err != nil {
		t.Fatal(err)
	}
	// One row per migration file: every one applied once, none twice.
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	if versions != len(files) {
		t.Fatalf("goose_db_version holds %d applied migrations, want %d", versions, len(files))
	}
}

func TestOpen_PathWithURICharacters_CreatesThatFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b?c#d%20e.db")
	s := openAt(t, path, sqlite.Options{})
	createTenant(t, s, "acme")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at %q: %v", path, err)
	}
}

func TestOpen_EmptyPath_Error(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), "", sqlite.Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestOpen_UnwritableDir_Error(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "keyshift.db")
	if _, err := sqlite.Open(t.Context(), path, sqlite.Options{}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// TestOpen_ConcurrentOnFreshFile_AllMigrate opens a new file from several
// goroutines at once, as processes started together would.
func TestOpen_ConcurrentOnFreshFile_AllMigrate(t *testing.T) {
	for range 3 {
		path := filepath.Join(t.TempDir(), "keyshift.db")
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
				if err == nil {
					err = s.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Open: %v", err)
			}
		}
	}
}

func TestOptionsNow_UsedForDefaultTimes(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	s := openTemp(t, sqlite.Options{Now: func() time.Time { return now }})
	createTenant(t, s, "acme")
	tx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateRevocation(ctx, store.Revocation{JTI: "j", ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEvent{Action: "x"})
	})
	tenant, err := s.GetTenant(t.Context(), "acme")
	if err != nil || !tenant.CreatedAt.Equal(now) || !tenant.UpdatedAt.Equal(now) {
		t.Fatalf("tenant = %+v, %v; want times %v", tenant, err, now)
	}
	rev, err := s.GetRevocation(t.Context(), "j")
	if err != nil || !rev.RevokedAt.Equal(now) {
		t.Fatalf("revocation = %+v, %v; want RevokedAt %v", rev, err, now)
	}
	events, err := s.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil || len(events) != 1 || !events[0].Time.Equal(now) {
		t.Fatalf("audit = %+v, %v; want Time %v", events, err, now)
	}
}

// TestConcurrentWriters_NoBusyErrors runs writers and readers in goroutines,
// on one Store and on a second Store over the same file (as the CLI beside a
// running server would).
func TestConcurrentWriters_NoBusyErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyshift.db")
	stores := []*sqlite.Store{openAt(t, path, sqlite.Options{}), openAt(t, path, sqlite.Options{})}
	const workers, each = 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				id := fmt.Sprintf("t-%d-%d", w, i)
				errs <- s.Tx(ctx, func(tx store.Tx) error {
					if _, err := tx.ListTenants(ctx); err != nil {
						return err
					}
					return tx.CreateTenant(ctx, store.Tenant{ID: id, Name: id})
				})
				_, err := s.GetTenant(ctx, id)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent access: %v", err)
		}
	}
	got, err := stores[0].ListTenants(t.Context())
	if err != nil || len(got) != workers*each {
		t.Fatalf("ListTenants = %d tenants, %v; want %d", len(got), err, workers*each)
	}
}

func TestFeed_SubscriberFallsBehind_GetsResync(t *testing.T) {
	s := openTemp(t, sqlite.Options{FeedBuffer: 4})
	changes := s.Subscribe(t.Context())
	for i := range 10 {
		createTenant(t, s, fmt.Sprintf("t%d", i))
	}
	for {
		select {
		case c := <-changes:
			if c.Kind == store.ChangeResync {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no resync after the subscriber fell behind")
		}
	}
}

func TestClose_ClosesSubscriptions(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	changes := s.Subscribe(t.Context())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case _, ok := <-changes:
		if ok {
			t.Fatal("change received after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription not closed by Close")
	}
	if _, ok := <-s.Subscribe(t.Context()); ok {
		t.Fatal("Subscribe after Close returned an open channel")
	}
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping after Close = %v, want ErrUnavailable", err)
	}
}

func TestCheckIntegrity_DanglingClient_Error(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyshift.db")
	s := openAt(t, path, sqlite.Options{})
	// Written behind the store's back with foreign keys off.
	_, err := rawDB(t, path, "?_pragma=foreign_keys(0)").Exec(`INSERT INTO clients (id, tenant,
		name, contact_login, contact_first_name, contact_last_name, contact_email, grant_types,
		scopes, redirect_uris, auth_method, secrets, access_token_ttl, status,
		converted_from_key, created_at, updated_at) VALUES
		('c1', 'ghost', '', '', '', '', '', '[]', '[]', '[]', '', '[]', 0, '', '',
		 '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckIntegrity(t.Context()); err == nil {
		t.Fatal("CheckIntegrity passed with a client of a missing tenant")
	}
}
