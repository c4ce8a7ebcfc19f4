package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/profile"
)

// TestProfiles_OneFileOneVariable_ForAdminVerbsAndToken runs the binary's
// root command: an admin verb and `keyshift token` read the same profiles
// file, and KEYSHIFT_PROFILE picks the same profile for both.
func TestProfiles_OneFileOneVariable_ForAdminVerbsAndToken(t *testing.T) {
	s := admintest.New(t)
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	content := fmt.Sprintf("profiles:\n  ops: {issuer: %s, client_id: %s, client_secret: %s}\n  other: {issuer: %s, client_id: %s, client_secret: kss_wrong}\n",
		s.URL, s.ClientID, s.ClientSecret, s.URL, s.ClientID)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(profile.EnvFile, path)
	for _, env := range []string{"KEYSHIFT_URL", "KEYSHIFT_CLIENT_ID", "KEYSHIFT_CLIENT_SECRET"} {
		t.Setenv(env, "")
	}
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	for _, verb := range [][]string{{"tenants", "list"}, {"token", "--no-cache"}} {
		for _, tc := range []struct {
			env  string
			args []string
			want string // "" for success
		}{
			{"ops", nil, ""},
			{"other", nil, "invalid_client"},
			{"other", []string{"--profile", "ops"}, ""},
			{"other", []string{"before", "--profile", "ops"}, ""},
			{"prod", nil, `profile "prod" not found in ` + path + " (profiles: ops, other)"},
		} {
			t.Run(fmt.Sprintf("%s/%s%s", verb[0], tc.env, strings.Join(tc.args, "")), func(t *testing.T) {
				t.Setenv(profile.EnvName, tc.env)
				args := append(append([]string{}, verb...), tc.args...)
				if len(tc.args) > 0 && tc.args[0] == "before" { // keyshift --profile ops VERB
					args = append(append([]string{}, tc.args[1:]...), verb...)
				}
				out, err := run(args...)
				switch {
				case tc.want == "" && (err != nil || out == ""):
					t.Fatalf("keyshift %s = %q, %v", verb[0], out, err)
				case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			})
		}
	}
}
