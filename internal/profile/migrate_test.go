package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// configHome points os.UserConfigDir at a fresh directory and returns
// keyshift's directory inside it.
func configHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	for _, env := range []string{EnvFile, EnvLegacyAdmin, EnvLegacyIntegrations, EnvName} {
		t.Setenv(env, "")
	}
	dir := filepath.Join(home, "keyshift")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const (
	oldAdminJSON = `{"profiles": {"prod": {"url": "https://auth.example/", "client_id": "ksc_op", "client_secret": "kss_op"},
		"default": {"url": "https://auth.example", "client_id": "ksc_def", "client_secret": "kss_def"}}}`
	oldIntegrationsYAML = "default: prod\nprofiles:\n  prod: {issuer: https://auth.example, client_id: ksc_erp, client_secret_env: ERP, scopes: [core.invoice.read]}\n  test: {token_url: https://t/token, client_id: ksc_t, client_secret_file: /s}\n"
)

func TestMigrate(t *testing.T) {
	opAdmin := Profile{Issuer: "https://auth.example", ClientID: "ksc_op", ClientSecret: "kss_op"}
	defAdmin := Profile{Issuer: "https://auth.example", ClientID: "ksc_def", ClientSecret: "kss_def"}
	erp := Profile{Issuer: "https://auth.example", ClientID: "ksc_erp", ClientSecretEnv: "ERP", Scopes: []string{"core.invoice.read"}}
	test := Profile{TokenURL: "https://t/token", ClientID: "ksc_t", ClientSecretFile: "/s"}
	for _, tc := range []struct {
		name         string
		admin, integ string // "" for no file
		want         File
		wantMsg      []string
	}{
		{"nothing to migrate", "", "", File{Profiles: map[string]Profile{}}, nil},
		{"admin only", `{"profiles": {"prod": {"url": "https://auth.example/", "client_id": "ksc_op", "client_secret": "kss_op"}}}`, "",
			File{Profiles: map[string]Profile{"prod": opAdmin}}, []string{"profiles migrated to ", "profiles.json (old files kept"}},
		{"integrations only", "", oldIntegrationsYAML,
			File{Default: "prod", Profiles: map[string]Profile{"prod": erp, "test": test}}, []string{"from " + "INTEG"}},
		{"both, a name in both", oldAdminJSON, oldIntegrationsYAML,
			File{Default: "prod-integration", Profiles: map[string]Profile{"prod-admin": opAdmin, "prod-integration": erp, "test": test, "default": defAdmin}},
			[]string{"profiles.json and ", `renamed: "prod" → "prod-integration", "prod" → "prod-admin"`,
				`admin verbs without --profile now use the file's default "prod-integration"`}},
		{"admin name that cannot name a file", `{"profiles": {"eu/prod": {"url": "https://a", "client_id": "c", "client_secret": "s"}}}`, "",
			File{Profiles: map[string]Profile{"eu_prod": {Issuer: "https://a", ClientID: "c", ClientSecret: "s"}}}, []string{`"eu/prod" → "eu_prod"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := configHome(t)
			adminPath, integPath := filepath.Join(dir, "profiles.json"), filepath.Join(dir, "integrations.yaml")
			if tc.admin != "" {
				write(t, adminPath, tc.admin)
			}
			if tc.integ != "" {
				write(t, integPath, tc.integ)
			}
			var notes strings.Builder
			f, err := Open("", &notes)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Path = filepath.Join(dir, "profiles.yaml")
			if !reflect.DeepEqual(f, tc.want) {
				t.Errorf("migrated = %+v\nwant       %+v", f, tc.want)
			}
			msg := notes.String()
			if tc.wantMsg == nil && msg != "" || tc.wantMsg != nil && strings.Count(msg, "\n") != 1 {
				t.Errorf("notes = %q; want one line or none", msg)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(msg, strings.ReplaceAll(w, "INTEG", integPath)) {
					t.Errorf("notes = %q; want %q", msg, w)
				}
			}
			if tc.wantMsg == nil {
				return
			}
			if fi, err := os.Stat(tc.want.Path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("new file: %v, %v; want mode 0600", fi, err)
			}
			for path, content := range map[string]string{adminPath: tc.admin, integPath: tc.integ} {
				if b, _ := os.ReadFile(path); content != "" && string(b) != content {
					t.Errorf("old file %s changed", path)
				}
			}
			// A second run reads the new file and says nothing.
			notes.Reset()
			again, err := Open("", &notes)
			if err != nil || notes.Len() != 0 || !reflect.DeepEqual(again, f) {
				t.Errorf("second run: %+v, %v, notes %q", again, err, notes.String())
			}
		})
	}
}

func TestMigrate_ExplicitFile_NotFilled(t *testing.T) {
	dir := configHome(t)
	write(t, filepath.Join(dir, "profiles.json"), oldAdminJSON)
	for _, how := range []string{"flag", "env"} {
		path := filepath.Join(t.TempDir(), "p.yaml")
		flag := path
		if how == "env" {
			flag = ""
			t.Setenv(EnvFile, path)
		}
		var notes strings.Builder
		f, err := Open(flag, &notes)
		if err != nil || len(f.Profiles) != 0 || notes.Len() != 0 || f.Path != path {
			t.Errorf("%s: %+v, %v, notes %q; want an empty file at %s", how, f, err, notes.String(), path)
		}
	}
}

func TestMigrate_LegacyVariables_AreSources(t *testing.T) {
	configHome(t)
	other := t.TempDir()
	adminPath, integPath := filepath.Join(other, "admin.json"), filepath.Join(other, "erp.yaml")
	write(t, adminPath, `{"profiles": {"ops": {"url": "https://a", "client_id": "c", "client_secret": "s"}}}`)
	write(t, integPath, "profiles:\n  erp: {issuer: https://a, client_id: e, client_secret_env: E}\n")
	t.Setenv(EnvLegacyAdmin, adminPath)
	t.Setenv(EnvLegacyIntegrations, integPath)
	var notes strings.Builder
	f, err := Open("", &notes)
	if err != nil || !reflect.DeepEqual(f.Names(), []string{"erp", "ops"}) {
		t.Fatalf("%+v, %v", f, err)
	}
	if !strings.Contains(notes.String(), adminPath+" and "+integPath) {
		t.Errorf("notes = %q", notes.String())
	}
}

func TestMigrate_ReadableAdminFile_Refused(t *testing.T) {
	dir := configHome(t)
	path := filepath.Join(dir, "profiles.json")
	write(t, path, oldAdminJSON)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open("", &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "profiles.yaml")); err == nil {
		t.Error("the new file was written from a refused file")
	}
}
