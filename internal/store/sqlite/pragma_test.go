package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestOpen_ConnectionSettings checks the settings every connection of both
// pools must carry; synchronous=FULL is what makes acknowledged writes
// survive a crash.
func TestOpen_ConnectionSettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for name, db := range map[string]*sql.DB{"writer": s.wdb, "reader": s.rdb} {
		for _, tc := range tests {
			var got string
			if err := db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", name, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", name, tc.pragma, got, tc.want)
			}
		}
	}
	var queryOnly string
	if err := s.rdb.QueryRowContext(t.Context(), "PRAGMA query_only").Scan(&queryOnly); err != nil || queryOnly != "1" {
		t.Errorf("reader: PRAGMA query_only = %q, %v; want 1", queryOnly, err)
	}
}
