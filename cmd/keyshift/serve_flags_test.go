package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_RefusesBadLifetimes: a lifetime that is not a positive
// duration (or a trusted proxy that is not a CIDR) stops serve with one
// line, before anything is created.
func TestServe_RefusesBadLifetimes(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"env not a duration", "KEYSHIFT_REFRESH_TOKEN_TTL=90days", nil, "KEYSHIFT_REFRESH_TOKEN_TTL"},
		{"zero flag", "", []string{"--session-ttl", "0s"}, "must be positive"},
		{"negative flag", "", []string{"--refresh-token-ttl", "-1h"}, "must be positive"},
		{"trusted proxy not a CIDR", "", []string{"--trusted-proxies", "10.0.0.0/8,lb.internal"}, "--trusted-proxies"},
		{"trusted proxy env not a CIDR", "KEYSHIFT_TRUSTED_PROXIES=10.0.0.0/33", nil, "--trusted-proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "ks.db")
			cmd := keyshiftCmd(t, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tt.args...)...)
			if tt.env != "" {
				cmd.Env = append(cmd.Env, tt.env)
			}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("serve accepted it:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 1 {
				t.Fatalf("output %q, want one line naming %q", out, tt.want)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Fatalf("the store was created before the flags were checked (stat: %v)", err)
			}
		})
	}
}
