package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// TestTx_FileLockedByAnotherConnection_UnavailableWithinTimeout holds the
// database's write lock from another connection (as another process would)
// and checks that a transaction gives up with ErrUnavailable (a 503 to the
// requests waiting on it) within the store timeout, instead of waiting
// longer or failing as an internal error, and that nothing of it is
// written.
func TestTx_FileLockedByAnotherConnection_UnavailableWithinTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	path := filepath.Join(t.TempDir(), "keyshift.db")
	s := openAt(t, path, sqlite.Options{Timeout: timeout})
	other := rawDB(t, path, "?_pragma=busy_timeout(0)")
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}

	start := time.Now()
	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, store.Tenant{ID: "locked", Name: "Locked", Status: store.StatusActive})
	})
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Tx while another connection holds the lock: %v, want ErrUnavailable", err)
	}
	// The bound is generous for a loaded machine; without the deadline the
	// wait was busy_timeout's fixed 5 s.
	if took > timeout+3*time.Second {
		t.Errorf("Tx gave up after %s, want about %s", took, timeout)
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTenant(ctx, "locked"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTenant after the refused Tx: %v, want not found", err)
	}
	createTenant(t, s, "locked") // the lock gone, the same write succeeds
}
