package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// crashChildEnv names the database a re-executed test binary writes to until
// it is killed.
const crashChildEnv = "KEYSHIFT_SQLITE_CRASH_CHILD_DB"

// TestCrashChild is the child of TestCrash_SIGKILL_KeepsAcknowledgedWrites;
// it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("only runs as the child of the crash test")
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("t%06d", i)
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateTenant(ctx, store.Tenant{ID: id, Name: id}); err != nil {
				return err
			}
			if err := tx.CreateClient(ctx, store.Client{ID: "c" + id, Tenant: id}); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, store.AuditEvent{Tenant: id, Action: "tenant.create", ObjectID: id})
		})
		if err != nil {
			fmt.Println("write:", err)
			os.Exit(2)
		}
		fmt.Println(id) // acknowledged
	}
}

func TestCrash_SIGKILL_KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "keyshift.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	deadline := time.Now().Add(30 * time.Second)
	for len(acked) < 150 && time.Now().Before(deadline) && lines.Scan() {
		if line := lines.Text(); len(line) == 7 && line[0] == 't' {
			acked = append(acked, line)
		} else {
			t.Logf("child: %s", line)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("child acknowledged no write")
	}

	s := openAt(t, path, sqlite.Options{})
	if err := s.CheckIntegrity(t.Context()); err != nil {
		t.Fatalf("CheckIntegrity after SIGKILL: %v", err)
	}
	for _, id := range acked {
		if _, err := s.GetTenant(t.Context(), id); err != nil {
			t.Fatalf("acknowledged tenant %s lost: %v", id, err)
		}
		if _, err := s.GetClient(t.Context(), "c"+id); err != nil {
			t.Fatalf("acknowledged client c%s lost: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}
