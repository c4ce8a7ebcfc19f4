package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var txTests = []test{
	{"FnError_RollsBackEveryWrite", testTxRollback},
	{"Panic_RollsBackAndRepanics", testTxPanic},
	{"ReadsOwnWrites", testTxReadsOwnWrites},
	{"CanceledContext_WritesNothing", testTxCanceled},
	{"AuditCommitsWithChange", testTxAuditWithChange},
}

// writeEverything creates one object of each kind, as a Tx body.
func writeEverything(ctx context.Context, tx store.Tx) error {
	steps := []func() error{
		func() error { return tx.CreateTenant(ctx, newTenant("acme")) },
		func() error { return tx.CreateClient(ctx, newClient("c1", "acme", "ada")) },
		func() error { return tx.PutScope(ctx, newScope("core.invoice.read")) },
		func() error { return tx.CreateSigningKey(ctx, newKey("k1")) },
		func() error { return tx.CreateRevocation(ctx, newRevocation("j1", time.Hour)) },
		func() error { return tx.AppendAudit(ctx, newEvent("e1", 0, "acme", "client.create", "c1")) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// checkNothingWritten fails if any object of writeEverything is visible.
func checkNothingWritten(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	checks := map[string]error{}
	_, checks["tenant"] = s.GetTenant(ctx, "acme")
	_, checks["client"] = s.GetClient(ctx, "c1")
	_, checks["scope"] = s.GetScope(ctx, "core.invoice.read")
	_, checks["signing key"] = s.GetSigningKey(ctx, "k1")
	_, checks["revocation"] = s.GetRevocation(ctx, "j1")
	for what, err := range checks {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after rollback: error = %v, want ErrNotFound", what, err)
		}
	}
	events, err := s.ListAudit(ctx, store.AuditFilter{})
	noErr(t, "ListAudit", err)
	if len(events) != 0 {
		t.Errorf("audit after rollback: %d events, want none", len(events))
	}
}

func testTxRollback(t *testing.T, s store.Store) {
	changes := s.Subscribe(t.Context())
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := writeEverything(ctx, tx); err != nil {
			t.Fatalf("writes inside the transaction: %v", err)
		}
		return errFromFn
	})
	wantErr(t, "Tx", err, errFromFn)
	checkNothingWritten(t, s)
	// The first change the feed delivers must be the marker, not a write of
	// the rolled back transaction.
	putScopes(t, s, store.Scope{Name: "marker"})
	expectChanges(t, changes, store.Change{Kind: store.ChangeScope, ID: "marker"})
}

func testTxPanic(t *testing.T, s store.Store) {
	func() {
		defer func() {
			if p := recover(); p != errFromFn {
				t.Fatalf("recovered %v, want the panic value from fn", p)
			}
		}()
		_ = s.Tx(t.Context(), func(tx store.Tx) error {
			if err := writeEverything(t.Context(), tx); err != nil {
				t.Fatalf("writes inside the transaction: %v", err)
			}
			panic(errFromFn)
		})
	}()
	checkNothingWritten(t, s)
	// The store is still usable.
	createTenants(t, s, "after-panic")
}

func testTxReadsOwnWrites(t *testing.T, s store.Store) {
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := writeEverything(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.GetTenant(ctx, "acme"); err != nil {
			return fmt.Errorf("GetTenant inside tx: %w", err)
		}
		clients, err := tx.ListClients(ctx, "acme")
		if err != nil || len(clients) != 1 {
			return fmt.Errorf("ListClients inside tx = %d clients, %v", len(clients), err)
		}
		if _, err := tx.GetRevocation(ctx, "j1"); err != nil {
			return fmt.Errorf("GetRevocation inside tx: %w", err)
		}
		events, err := tx.ListAudit(ctx, store.AuditFilter{})
		if err != nil || len(events) != 1 {
			return fmt.Errorf("ListAudit inside tx = %d events, %v", len(events), err)
		}
		return nil
	})
}

func testTxCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Tx(ctx, func(tx store.Tx) error { return writeEverything(ctx, tx) })
	if err == nil {
		t.Fatal("Tx with a canceled context succeeded")
	}
	checkNothingWritten(t, s)
}

func testTxAuditWithChange(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	// A failed change takes its audit event down with it.
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AppendAudit(ctx, newEvent("e1", 0, "acme", "tenant.create", "acme")); err != nil {
			return err
		}
		return tx.CreateTenant(ctx, newTenant("acme"))
	})
	wantErr(t, "Tx", err, store.ErrAlreadyExists)
	events, err := s.ListAudit(t.Context(), store.AuditFilter{})
	noErr(t, "ListAudit", err)
	if len(events) != 0 {
		t.Fatalf("audit event of a failed change was kept: %+v", events)
	}
}

var backendTests = []test{
	{"Ping", func(t *testing.T, s store.Store) { noErr(t, "Ping", s.Ping(t.Context())) }},
	{"CheckIntegrity_AfterWrites", testIntegrity},
}

func testIntegrity(t *testing.T, s store.Store) {
	noErr(t, "CheckIntegrity on an empty store", s.CheckIntegrity(t.Context()))
	write(t, s, writeEverything)
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	noErr(t, "CheckIntegrity after writes", s.CheckIntegrity(t.Context()))
}
