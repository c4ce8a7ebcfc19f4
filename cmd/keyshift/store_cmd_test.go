package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// runKeyshift runs `keyshift args…` to completion and returns its output
// and whether it exited 0.
func runKeyshift(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	out, err := keyshiftCmd(t, args...).CombinedOutput()
	return string(out), err == nil
}

func TestMigrateAndStoreCopy_CLI(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.NewSchema(t, dsn)
	pg := dsn + "&search_path=" + schema

	// Bad input: one line, non-zero exit, nothing written.
	for _, args := range [][]string{
		{"migrate", "up", "--db", filepath.Join(t.TempDir(), "x.db")},
		{"migrate", "status"},
		{"store", "copy", "--from", "sqlite:" + filepath.Join(t.TempDir(), "none", "x.db"), "--to", pg},
		{"store", "copy", "--to", pg},
	} {
		out, ok := runKeyshift(t, args...)
		if ok || strings.Count(strings.TrimSpace(out), "\n") > 0 && !strings.Contains(out, "Usage:") {
			t.Errorf("keyshift %v: ok=%v, want one-line failure, got:\n%s", args, ok, out)
		}
	}

	out, ok := runKeyshift(t, "migrate", "status", "--db", pg)
	if !ok || !strings.Contains(out, "00001") || !strings.Contains(out, "no") {
		t.Fatalf("migrate status on an empty schema:\n%s", out)
	}
	if out, ok = runKeyshift(t, "migrate", "up", "--db", pg); !ok || !strings.Contains(out, "applied 00001") {
		t.Fatalf("migrate up:\n%s", out)
	}
	if out, ok = runKeyshift(t, "migrate", "up", "--db", pg); !ok || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate up:\n%s", out)
	}

	src := filepath.Join(t.TempDir(), "src.db")
	if out, ok := runKeyshift(t, "init", "--db", src, "--json"); !ok {
		t.Fatalf("init source: %s", out)
	}
	out, ok = runKeyshift(t, "store", "copy", "--from", src, "--to", pg)
	if !ok || !strings.Contains(out, "copied and verified") {
		t.Fatalf("store copy:\n%s", out)
	}
	if out, ok = runKeyshift(t, "store", "copy", "--from", src, "--to", pg); ok || !strings.Contains(out, "empty") {
		t.Fatalf("copy into a non-empty store must fail clearly:\n%s", out)
	}
}
