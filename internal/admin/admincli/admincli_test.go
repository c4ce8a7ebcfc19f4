package admincli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/profile"
)

type result struct {
	stdout, stderr string
	err            error
}

// run executes the CLI as the binary would, with stdin as given.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	root := &cobra.Command{Use: "keyshift", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return result{out.String(), errb.String(), err}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, "", args...)
	if r.err != nil {
		t.Fatalf("keyshift %s: %v (stderr %s)", strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

// setup starts a stack and writes a default profile for its operator.
func setup(t *testing.T) *admintest.Stack {
	t.Helper()
	s := admintest.New(t)
	t.Setenv(profile.EnvFile, filepath.Join(t.TempDir(), "cfg", "profiles.yaml"))
	t.Setenv(profile.EnvName, "")
	for _, env := range []string{EnvURL, EnvClientID, EnvClientSecret} {
		t.Setenv(env, "")
	}
	r := run(t, s.ClientSecret+"\n", "profile", "set", "default", "--url", s.URL+"/", "--client-id", s.ClientID, "--client-secret-stdin")
	if r.err != nil {
		t.Fatalf("profile set: %v", r.err)
	}
	return s
}

func TestProfileSet_WritesPrivateFile_ListHidesSecret(t *testing.T) {
	s := setup(t)
	path := os.Getenv(profile.EnvFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o, want 0600", fi.Mode().Perm())
	}
	ps, err := profile.Load(path)
	if err != nil || ps.Profiles["default"].ClientSecret != s.ClientSecret || ps.Profiles["default"].Issuer != s.URL {
		t.Fatalf("profiles = %+v, %v", ps, err)
	}
	for _, format := range []string{"table", "json"} {
		out := mustRun(t, "profile", "list", "-o", format)
		if !strings.Contains(out, s.ClientID) || strings.Contains(out, s.ClientSecret) {
			t.Errorf("%s list: %s", format, out)
		}
	}
}

func TestProfileSet_SecretFromFile(t *testing.T) {
	t.Setenv(profile.EnvFile, filepath.Join(t.TempDir(), "profiles.yaml"))
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("kss_fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "profile", "set", "ci", "--url", "https://auth.example", "--client-id", "ksc_x", "--client-secret-file", secretFile)
	ps, _ := profile.Load(os.Getenv(profile.EnvFile))
	if ps.Profiles["ci"].ClientSecret != "kss_fromfile" {
		t.Errorf("secret = %q", ps.Profiles["ci"].ClientSecret)
	}
}

func TestProfileSet_Refusals(t *testing.T) {
	t.Setenv(profile.EnvFile, filepath.Join(t.TempDir(), "profiles.yaml"))
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no secret", "", []string{"--url", "https://a.example", "--client-id", "x"}, "client secret is required"},
		{"empty stdin", "\n", []string{"--url", "https://a.example", "--client-id", "x", "--client-secret-stdin"}, "client secret is required"},
		{"no url", "s\n", []string{"--client-id", "x", "--client-secret-stdin"}, "--url"},
		{"two sources", "s\n", []string{"--url", "https://a.example", "--client-id", "x", "--client-secret", "a", "--client-secret-stdin"}, "none of the others"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.stdin, append([]string{"profile", "set", "p"}, tt.args...)...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", r.err, tt.want)
			}
		})
	}
}

func TestProfiles_GroupReadableFile_Refused(t *testing.T) {
	s := setup(t)
	_ = s
	path := os.Getenv(profile.EnvFile)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "tenants", "list")
	if r.err == nil || !strings.Contains(r.err.Error(), "chmod 600") {
		t.Fatalf("err = %v", r.err)
	}
}

func TestProfiles_Missing_ExplainsHowToCreate(t *testing.T) {
	setup(t)
	r := run(t, "", "--profile", "staging", "tenants", "list")
	if r.err == nil || !strings.Contains(r.err.Error(), "keyshift profile set staging") {
		t.Fatalf("err = %v", r.err)
	}
}

func TestProfiles_EnvironmentOverrides(t *testing.T) {
	s := setup(t)
	t.Setenv(profile.EnvFile, filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv(EnvURL, s.URL)
	t.Setenv(EnvClientID, s.ClientID)
	t.Setenv(EnvClientSecret, s.ClientSecret)
	if out := mustRun(t, "tenants", "list"); !strings.Contains(out, "platform") {
		t.Errorf("out = %s", out)
	}
}

func TestTenantsVerbs(t *testing.T) {
	setup(t)
	out := mustRun(t, "tenants", "create", "acme", "--name", "Acme Corp")
	if !strings.Contains(out, "acme") || !strings.Contains(out, "Acme Corp") || !strings.HasPrefix(out, "ID") {
		t.Errorf("create: %s", out)
	}
	var ts []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "tenants", "list", "-o", "json")), &ts); err != nil || len(ts) != 2 {
		t.Fatalf("list json: %v %v", ts, err)
	}
	if out := mustRun(t, "tenants", "update", "acme", "--status", "disabled"); !strings.Contains(out, "disabled") {
		t.Errorf("update: %s", out)
	}
	if out := mustRun(t, "tenants", "show", "acme", "-o", "json"); !strings.Contains(out, `"status": "disabled"`) {
		t.Errorf("show: %s", out)
	}
	if r := run(t, "", "tenants", "delete", "acme"); r.err == nil || !strings.Contains(r.err.Error(), "--yes") {
		t.Errorf("delete without --yes: %v", r.err)
	}
	mustRun(t, "tenants", "delete", "acme", "--yes")
	if r := run(t, "", "tenants", "show", "acme"); r.err == nil || !strings.Contains(r.err.Error(), "404") {
		t.Errorf("show deleted: %v", r.err)
	}
	if r := run(t, "", "tenants", "update", "acme"); r.err == nil || !strings.Contains(r.err.Error(), "nothing to change") {
		t.Errorf("empty update: %v", r.err)
	}
}

func TestScopesVerbs(t *testing.T) {
	setup(t)
	out := mustRun(t, "scopes", "set", "core.invoice.read", "--description", "Read invoices", "--permission", "invoices:read", "--permission", "invoices:show")
	if !strings.Contains(out, "invoices:read,invoices:show") {
		t.Errorf("set: %s", out)
	}
	out = mustRun(t, "scopes", "list")
	for _, want := range []string{"core.invoice.read", "keyshift:admin", "openid"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %s: %s", want, out)
		}
	}
	r := run(t, "", "scopes", "set", "core.invoice", "--description", "x")
	if r.err == nil || !strings.Contains(r.err.Error(), "name: must be service.object.right") {
		t.Errorf("bad name: %v", r.err)
	}
}

func TestClientsVerbs(t *testing.T) {
	setup(t)
	mustRun(t, "tenants", "create", "acme", "--name", "Acme Corp")
	mustRun(t, "scopes", "set", "core.invoice.read", "--permission", "invoices:read")
	r := run(t, "", "clients", "create", "acme", "--name", "ERP", "--scope", "core.invoice.read",
		"--login", "erp", "--email", "ops@acme.example", "--first-name", "Ada", "--last-name", "L", "--ttl", "1h", "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stderr, "shown only now") {
		t.Errorf("stderr = %q", r.stderr)
	}
	var created admin.CreateClientResponse
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.ClientSecret == "" || created.AccessTokenTTLSeconds != 3600 {
		t.Fatalf("create json %s: %v", r.stdout, err)
	}
	id := created.ClientID

	if out := mustRun(t, "clients", "list", "acme"); !strings.Contains(out, id) || strings.Contains(out, created.ClientSecret) {
		t.Errorf("list: %s", out)
	}
	if out := mustRun(t, "clients", "show", "acme", id); !strings.Contains(out, "Ada L <ops@acme.example>") || !strings.Contains(out, "1h0m0s") {
		t.Errorf("show: %s", out)
	}
	if out := mustRun(t, "clients", "disable", "acme", id); !strings.Contains(out, "disabled") {
		t.Errorf("disable: %s", out)
	}
	if out := mustRun(t, "clients", "enable", "acme", id); !strings.Contains(out, "active") {
		t.Errorf("enable: %s", out)
	}
	if out := mustRun(t, "clients", "update", "acme", id, "--name", "ERP v2", "--ttl", "600", "-o", "json"); !strings.Contains(out, `"ERP v2"`) || !strings.Contains(out, `"access_token_ttl_seconds": 600`) {
		t.Errorf("update: %s", out)
	}
	r = run(t, "", "clients", "rotate-secret", "acme", id, "--previous-expires-at", "48h", "-o", "json")
	var rot admin.RotateSecretResponse
	if r.err != nil || json.Unmarshal([]byte(r.stdout), &rot) != nil || rot.ClientSecret == "" || rot.PreviousExpiresAt == nil {
		t.Fatalf("rotate: %v %s", r.err, r.stdout)
	}
	// A second client with the same login is refused with the API's words.
	r = run(t, "", "clients", "create", "acme", "--name", "Other", "--scope", "core.invoice.read", "--login", "erp")
	if r.err == nil || !strings.Contains(r.err.Error(), "Login has already been taken") {
		t.Errorf("duplicate login: %v", r.err)
	}
	if r := run(t, "", "clients", "update", "acme", id, "--ttl", "soon"); r.err == nil {
		t.Error("bad --ttl accepted")
	}
	mustRun(t, "clients", "delete", "acme", id, "--yes")
	if r := run(t, "", "clients", "show", "acme", id); r.err == nil {
		t.Error("deleted client still shown")
	}
}

func TestSigningKeysAndAuditVerbs(t *testing.T) {
	setup(t)
	before := mustRun(t, "signing-keys", "list")
	if !strings.Contains(before, "active") || !strings.Contains(before, "next") {
		t.Errorf("list: %s", before)
	}
	if out := mustRun(t, "signing-keys", "rotate"); !strings.Contains(out, "retired") {
		t.Errorf("rotate: %s", out)
	}
	mustRun(t, "tenants", "create", "acme", "--name", "Acme")
	var list admin.AuditList
	if err := json.Unmarshal([]byte(mustRun(t, "audit", "--tenant", "acme", "--limit", "5", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Events) != 1 || list.Events[0].Action != "tenant.create" {
		t.Errorf("audit = %+v", list.Events)
	}
	if out := mustRun(t, "audit", "--action", "signing_key.rotate"); !strings.Contains(out, "signing_key.rotate") {
		t.Errorf("audit table: %s", out)
	}
}

func TestOutputFormat_Unknown_Refused(t *testing.T) {
	setup(t)
	if r := run(t, "", "tenants", "list", "-o", "yaml"); r.err == nil || !strings.Contains(r.err.Error(), "yaml") {
		t.Fatalf("err = %v", r.err)
	}
}
