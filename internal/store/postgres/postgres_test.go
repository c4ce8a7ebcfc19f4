package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
	"github.com/keyshift/keyshift/internal/store/storetest"
)

var (
	testDSN    = pgtest.DSN
	newSchema  = pgtest.NewSchema
	admin      = pgtest.Exec
	openSchema = pgtest.OpenSchema
	openTemp   = pgtest.Open
)

// TestConformance runs the suite on one schema, emptied for each test.
func TestConformance(t *testing.T) {
	open := pgtest.Reuse(t, postgres.Options{})
	storetest.RunTests(t, func(t *testing.T) store.Store { return open(t) })
}

// TestConformance_FreshSchemas runs part of the suite on a fresh schema
// per test, as a new installation sees it.
func TestConformance_FreshSchemas(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a schema and its migrations per test")
	}
	storetest.RunTests(t, func(t *testing.T) store.Store {
		if !strings.HasPrefix(t.Name(), "TestConformance_FreshSchemas/Tx/") {
			t.Skip("the full suite runs in TestConformance")
		}
		return openTemp(t, postgres.Options{})
	})
}

func write(t testing.TB, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Tx(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func createTenant(t testing.TB, s store.Store, id string) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateTenant(ctx, store.Tenant{ID: id, Name: id, Status: store.StatusActive})
	})
}

// receive waits up to d for a change satisfying ok, skipping others.
func receive(t *testing.T, ch <-chan store.Change, d time.Duration, ok func(store.Change) bool) store.Change {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case c, open := <-ch:
			if !open {
				t.Fatal("feed closed")
			}
			if ok(c) {
				return c
			}
		case <-timeout:
			t.Fatalf("no matching change within %v", d)
		}
	}
}

func isResync(c store.Change) bool { return c.Kind == store.ChangeResync }

func TestFeed_TwoInstances_WriteOnASeenOnBWithinOneSecond(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	a := openSchema(t, dsn, schema, postgres.Options{})
	b := openSchema(t, dsn, schema, postgres.Options{})
	changes := b.Subscribe(t.Context())
	start := time.Now()
	createTenant(t, a, "acme")
	write(t, a, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateTenant(ctx, "acme", func(v store.Tenant) (store.Tenant, error) {
			v.Status = store.StatusDisabled
			return v, nil
		})
	})
	want := store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"}
	for range 2 {
		got := receive(t, changes, time.Second, func(store.Change) bool { return true })
		if got != want {
			t.Fatalf("B received %+v, want %+v", got, want)
		}
	}
	t.Logf("two changes crossed instances in %v", time.Since(start))
	got, err := b.GetTenant(t.Context(), "acme")
	if err != nil || got.Status != store.StatusDisabled {
		t.Fatalf("B reads %+v, %v; want the disabled tenant", got, err)
	}
}

func TestFeed_OtherSchema_NotSeen(t *testing.T) {
	dsn := testDSN(t)
	a := openSchema(t, dsn, newSchema(t, dsn), postgres.Options{})
	b := openSchema(t, dsn, newSchema(t, dsn), postgres.Options{})
	changes := b.Subscribe(t.Context())
	createTenant(t, a, "acme")
	createTenant(t, b, "marker")
	got := receive(t, changes, 5*time.Second, func(store.Change) bool { return true })
	if got.ID != "marker" {
		t.Fatalf("B received %+v from another schema before its own marker", got)
	}
}

func TestFeed_ListenerConnectionKilled_ResyncThenDelivers(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s := openSchema(t, dsn, schema, postgres.Options{})
	changes := s.Subscribe(t.Context())
	admin(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = $1`, `LISTEN "keyshift_changes.`+schema+`"`)
	receive(t, changes, 10*time.Second, isResync)
	createTenant(t, s, "acme")
	receive(t, changes, 5*time.Second, func(c store.Change) bool { return c.ID == "acme" })
}

func TestFeed_Periodic_Resync(t *testing.T) {
	s := openTemp(t, postgres.Options{ResyncEvery: 200 * time.Millisecond})
	changes := s.Subscribe(t.Context())
	for range 2 {
		receive(t, changes, 3*time.Second, isResync)
	}
}

func TestFeed_HugeTransaction_PublishesResyncToOthers(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s := openSchema(t, dsn, schema, postgres.Options{})
	changes := openSchema(t, dsn, schema, postgres.Options{}).Subscribe(t.Context())
	exp := time.Now().Add(time.Hour)
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range 1500 {
			err := tx.CreateRevocation(ctx, store.Revocation{JTI: fmt.Sprint("j", i), ExpiresAt: exp})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if c := receive(t, changes, 5*time.Second, func(store.Change) bool { return true }); !isResync(c) {
		t.Fatalf("first change = %+v, want a resync", c)
	}
}

func TestFeed_LongIDs_SplitAcrossNotifications(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s := openSchema(t, dsn, schema, postgres.Options{})
	changes := openSchema(t, dsn, schema, postgres.Options{}).Subscribe(t.Context())
	exp := time.Now().Add(time.Hour)
	const n = 200
	pad := string(make([]byte, 100))
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			jti := fmt.Sprintf("j%03d-%x", i, pad) // ~200 bytes each: ~40 KB in all
			if err := tx.CreateRevocation(ctx, store.Revocation{JTI: jti, ExpiresAt: exp}); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range n {
		c := receive(t, changes, 5*time.Second, func(store.Change) bool { return true })
		if want := fmt.Sprintf("j%03d-%x", i, pad); c.ID != want {
			t.Fatalf("change %d = %+v, want revocation %q", i, c, want)
		}
	}
}

func TestOpen_ManyInstancesAtOnce_MigrateSafely(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, postgres.Options{Schema: schema})
			if err == nil {
				err = errors.Join(s.CheckIntegrity(t.Context()), s.Close())
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

// TestOpen_ManyInstancesAtOnceOnNewSchema_MigrateSafely is the same with a
// schema that does not exist yet: the first instance creates it, and the
// others must still queue on the same migration lock.
func TestOpen_ManyInstancesAtOnceOnNewSchema_MigrateSafely(t *testing.T) {
	dsn := testDSN(t)
	for range 3 {
		schema := newSchema(t, dsn) + "_new"
		t.Cleanup(func() { admin(t, dsn, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
		const n = 6
		var wg sync.WaitGroup
		errs := make(chan error, n)
		release := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-release
				s, err := postgres.Open(t.Context(), dsn, postgres.Options{Schema: schema})
				if err == nil {
					err = errors.Join(s.CheckIntegrity(t.Context()), s.Close())
				}
				errs <- err
			})
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Open on a new schema: %v", err)
			}
		}
	}
}

func TestOpen_SchemaOption_CreatesSchema(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn) + "_new"
	t.Cleanup(func() { admin(t, dsn, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
	s := openSchema(t, dsn, schema, postgres.Options{})
	createTenant(t, s, "acme")
}

func TestMigrate_UpThenStatus(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	opts := postgres.Options{Schema: schema}
	st, err := postgres.MigrateStatus(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("MigrateStatus: %v", err)
	}
	if len(st) < 2 || st[0].Applied {
		t.Fatalf("status before up = %+v, want pending migrations", st)
	}
	applied, err := postgres.MigrateUp(t.Context(), dsn, opts)
	if err != nil || len(applied) != len(st) {
		t.Fatalf("MigrateUp = %v, %v; want %d versions", applied, err, len(st))
	}
	again, err := postgres.MigrateUp(t.Context(), dsn, opts)
	if err != nil || len(again) != 0 {
		t.Fatalf("second MigrateUp = %v, %v; want nothing to do", again, err)
	}
	st, err = postgres.MigrateStatus(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("MigrateStatus: %v", err)
	}
	for _, m := range st {
		if !m.Applied || m.AppliedAt.IsZero() || m.Name == "" {
			t.Fatalf("status after up = %+v, want every migration applied", st)
		}
	}
}

func TestOpen_Unreachable_ErrUnavailable(t *testing.T) {
	_, err := postgres.Open(t.Context(),
		"postgres://postgres:secret-pw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
		postgres.Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open(unreachable) error = %v, want ErrUnavailable", err)
	}
}

func TestOpen_BadDSN_DoesNotLeakPassword(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://u:secret-pw@127.0.0.1:notaport/db", postgres.Options{})
	if err == nil {
		t.Fatal("Open(bad DSN) succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "secret-pw") {
		t.Fatalf("error %q shows the password", msg)
	}
}

func TestTx_DatabaseGone_ErrUnavailable(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s := openSchema(t, dsn+"&application_name="+schema, schema, postgres.Options{})
	createTenant(t, s, "acme")
	// Kill every pooled connection of this store mid-life: the next use of
	// a dead connection fails as unavailable, not as a data error.
	admin(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND query NOT LIKE 'LISTEN%'`, schema)
	err := s.Tx(t.Context(), func(tx store.Tx) error {
		return tx.CreateTenant(t.Context(), store.Tenant{ID: "other", Status: store.StatusActive})
	})
	if err != nil && !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Tx on a killed connection: error = %v, want nil or ErrUnavailable", err)
	}
	// The pool replaces dead connections: the store recovers by itself.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.GetTenant(t.Context(), "acme")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpen_NoMigrate_NeedsMigratedSchema(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	opts := postgres.Options{Schema: schema, NoMigrate: true}
	if s, err := postgres.Open(t.Context(), dsn, opts); err == nil {
		_ = s.Close()
		t.Fatal("Open(NoMigrate) on an empty schema succeeded")
	}
	if _, err := postgres.MigrateUp(t.Context(), dsn, postgres.Options{Schema: schema}); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	s := openSchema(t, dsn, schema, postgres.Options{NoMigrate: true})
	createTenant(t, s, "acme")
}
