package admincli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/profile"
)

func TestProfiles_KeyshiftProfile_PicksTheProfileForAdminVerbs(t *testing.T) {
	s := setup(t)
	path := os.Getenv(profile.EnvFile)
	for name, secret := range map[string]string{"ops": s.ClientSecret, "broken": "kss_wrong"} {
		if r := run(t, secret+"\n", "profile", "set", name, "--url", s.URL, "--client-id", s.ClientID, "--client-secret-stdin"); r.err != nil {
			t.Fatal(r.err)
		}
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string // "" for success
	}{
		{"no variable: the profile named default", "", nil, ""},
		{"the variable picks a profile", "ops", nil, ""},
		{"the variable is used", "broken", nil, "invalid_client"},
		{"the flag wins over the variable", "broken", []string{"--profile", "ops"}, ""},
		{"a missing profile names the file and the others", "missing", nil,
			fmt.Sprintf(`profile "missing" not found in %s (profiles: broken, default, ops); create it with: keyshift profile set missing`, path)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(profile.EnvName, tc.env)
			r := run(t, "", append(tc.args, "tenants", "list")...)
			switch {
			case tc.want == "" && (r.err != nil || !strings.Contains(r.stdout, "platform")):
				t.Fatalf("tenants list = %q, %v", r.stdout, r.err)
			case tc.want != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", r.err, tc.want)
			}
		})
	}
}

func TestProfiles_AdminVerbs_ReadAnyProfileOfTheOneFormat(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "op.secret")
	if err := os.WriteFile(secretFile, []byte(s.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "profiles.yaml")
	content := fmt.Sprintf("default: ops\nprofiles:\n  ops:\n    issuer: %s\n    client_id: %s\n    client_secret_file: %s\n    scopes: ['keyshift:admin']\n",
		s.URL, s.ClientID, secretFile)
	// No secret inline: the file may be read by others.
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(profile.EnvFile, path)
	if out := mustRun(t, "tenants", "list"); !strings.Contains(out, "platform") {
		t.Errorf("tenants list = %s", out)
	}
	mustRun(t, "profile", "delete", "ops")
	if out := mustRun(t, "profile", "list"); strings.Contains(out, "ops") {
		t.Errorf("list after delete = %s", out)
	}
}

func TestProfiles_OldAdminFile_MigratedOnFirstUse(t *testing.T) {
	s := setup(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	t.Setenv(profile.EnvFile, "")
	t.Setenv(profile.EnvLegacyAdmin, "")
	t.Setenv(profile.EnvLegacyIntegrations, "")
	old := filepath.Join(home, "keyshift", "profiles.json")
	if err := os.MkdirAll(filepath.Dir(old), 0o700); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"profiles": {"default": {"url": %q, "client_id": %q, "client_secret": %q}}}`, s.URL, s.ClientID, s.ClientSecret)
	if err := os.WriteFile(old, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "tenants", "list")
	newPath := filepath.Join(home, "keyshift", "profiles.yaml")
	if r.err != nil || !strings.Contains(r.stdout, "platform") {
		t.Fatalf("tenants list = %q, %v", r.stdout, r.err)
	}
	if want := "keyshift: profiles migrated to " + newPath + " from " + old; !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want one line starting %q", r.stderr, want)
	}
	if r := run(t, "", "tenants", "list"); r.err != nil || r.stderr != "" {
		t.Errorf("second run: %v, stderr %q", r.err, r.stderr)
	}
}

func TestProfiles_NoneChosen_SaysWhichFileAndHowToCreateOne(t *testing.T) {
	for _, content := range []string{"", "profiles:\n  a: {issuer: https://a, client_id: c, client_secret_env: A}\n  b: {issuer: https://b, client_id: c, client_secret_env: B}\n"} {
		path := filepath.Join(t.TempDir(), "profiles.yaml")
		if content != "" {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv(profile.EnvFile, path)
		t.Setenv(profile.EnvName, "")
		for _, env := range []string{EnvURL, EnvClientID, EnvClientSecret} {
			t.Setenv(env, "")
		}
		want := "(profiles: none)"
		if content != "" {
			want = "(profiles: a, b)"
		}
		r := run(t, "", "tenants", "list")
		if r.err == nil || !strings.Contains(r.err.Error(), "no profile chosen in "+path+" "+want) ||
			!strings.Contains(r.err.Error(), "keyshift profile set default") || strings.Contains(r.err.Error(), "\n") {
			t.Errorf("err = %v", r.err)
		}
	}
}
