package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
)

// TestTx_StatementStuckPastTheDeadline_UnavailableNothingWritten runs a
// transaction whose statement is stuck when the store timeout passes (here
// waiting for a row lock another session holds; a frozen network looks the
// same from the client) while fn's statements carry the caller's context,
// which has no deadline: the transaction still fails with ErrUnavailable
// within the timeout, its earlier write is not committed, and the pool
// serves the next transactions.
func TestTx_StatementStuckPastTheDeadline_UnavailableNothingWritten(t *testing.T) {
	const timeout = 500 * time.Millisecond
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s := openSchema(t, dsn, schema, postgres.Options{Timeout: timeout})
	createTenant(t, s, "held")
	ctx := context.Background()

	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT 1 FROM `+schema+`.tenants WHERE id = 'held' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	err = s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, store.Tenant{ID: "late", Name: "Late", Status: store.StatusActive}); err != nil {
			return err
		}
		return tx.UpdateTenant(ctx, "held", func(t store.Tenant) (store.Tenant, error) {
			t.Name = "changed"
			return t, nil
		})
	})
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Tx stuck past its deadline: %v, want ErrUnavailable", err)
	}
	// Generous for a loaded machine; without the deadline the statement
	// waited for the lock (or statement_timeout, 30 s).
	if took > timeout+5*time.Second {
		t.Errorf("Tx stuck past its deadline returned after %s", took)
	}
	if _, err := holder.Exec(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	for range 3 { // every pooled connection still works
		if _, err := s.GetTenant(ctx, "late"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetTenant after the refused Tx: %v, want not found", err)
		}
	}
	if got, err := s.GetTenant(ctx, "held"); err != nil || got.Name != "held" {
		t.Fatalf("held tenant after the refused Tx: %+v %v", got, err)
	}
	createTenant(t, s, "late")
}

// TestTx_DeadlineNearlySpent_NoCommit checks that COMMIT is not sent with
// too little time left for its answer to come back: the transaction fails
// with ErrUnavailable (and not ErrOutcomeUnknown) and nothing is written.
func TestTx_DeadlineNearlySpent_NoCommit(t *testing.T) {
	const timeout = 2 * time.Second
	s := openTemp(t, postgres.Options{Timeout: timeout})
	ctx := context.Background()
	err := s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, store.Tenant{ID: "spent", Name: "Spent", Status: store.StatusActive}); err != nil {
			return err
		}
		time.Sleep(timeout - 50*time.Millisecond) // leaves less than the reserve
		return nil
	})
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("Tx with its deadline nearly spent: %v, want ErrUnavailable without ErrOutcomeUnknown", err)
	}
	if _, err := s.GetTenant(ctx, "spent"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTenant after the refused Tx: %v, want not found", err)
	}
}
