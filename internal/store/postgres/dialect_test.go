package postgres

import "testing"

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE id = ? AND b = ?`, `SELECT a FROM t WHERE id = $1 AND b = $2`},
		{`SELECT '?' FROM t WHERE "a?" = ? LIMIT ?`, `SELECT '?' FROM t WHERE "a?" = $1 LIMIT $2`},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
