package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var fileCases = []struct {
	name, yaml string
	ok         bool
}{
	{"two environments", "default: production\nprofiles:\n  production: {issuer: https://a, client_id: c, client_secret_env: S}\n  test: {token_url: https://t/token, client_id: c}\n", true},
	{"admin profile", "profiles:\n  prod: {issuer: https://a, client_id: c, client_secret: s, scopes: ['keyshift:admin']}\n", true},
	{"empty file", "", true},
	{"misspelt field", "profiles:\n  prod:\n    client_secrett: x\n", false},
	{"old admin field", "profiles:\n  prod: {url: https://a, client_id: c}\n", false},
	{"default not defined", "default: stage\nprofiles:\n  prod: {client_id: c}\n", false},
	{"default without profiles", "default: stage\n", false},
	{"bad profile name", "profiles:\n  'prod/../x': {client_id: c}\n", false},
	{"not YAML", "profiles: [", false},
}

func TestParse(t *testing.T) {
	for _, tc := range fileCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.yaml))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				return
			}
			b, err := f.Encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(b)
			if err != nil || !reflect.DeepEqual(again, f) {
				t.Errorf("round trip: %+v, %v; want %+v", again, err, f)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range fileCases {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		for name := range file.Profiles {
			if !ValidName(name) {
				t.Fatalf("accepted profile name %q", name)
			}
		}
	})
}

func TestSelect(t *testing.T) {
	two := map[string]Profile{"production": {}, "test": {}}
	for _, tc := range []struct {
		name string
		file File
		flag string
		env  string
		want string
	}{
		{"flag wins", File{Default: "test", Profiles: two}, "production", "test", "production"},
		{"env before the file's default", File{Default: "test", Profiles: two}, "", "production", "production"},
		{"file's default", File{Default: "test", Profiles: two}, "", "", "test"},
		{"profile named default", File{Profiles: map[string]Profile{"default": {}, "ci": {}}}, "", "", "default"},
		{"only profile", File{Profiles: map[string]Profile{"ci": {}}}, "", "", "ci"},
		{"none", File{Profiles: two}, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvName, tc.env)
			if got := tc.file.Select(tc.flag); got != tc.want {
				t.Errorf("Select(%q) = %q, want %q", tc.flag, got, tc.want)
			}
		})
	}
}

func TestPick_Missing_NamesTheFileAndTheProfiles(t *testing.T) {
	t.Setenv(EnvName, "")
	for _, tc := range []struct {
		file File
		want string
	}{
		{File{Path: "/root/.config/keyshift/profiles.yaml", Profiles: map[string]Profile{"staging": {}, "dev": {}}},
			`profile "prod" not found in /root/.config/keyshift/profiles.yaml (profiles: dev, staging)`},
		{File{Path: "/p.yaml"}, `profile "prod" not found in /p.yaml (profiles: none)`},
	} {
		_, _, err := tc.file.Pick("prod")
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %s", err, tc.want)
		}
	}
}

func TestLoad_ReadableFileWithInlineSecret_Refused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml string
		mode       os.FileMode
		want       string // "" for no error
	}{
		{"inline secret, private", "profiles:\n  p: {client_id: c, client_secret: s}\n", 0o600, ""},
		{"inline secret, group-readable", "profiles:\n  p: {client_id: c, client_secret: s}\n", 0o640, "chmod 600"},
		{"inline secret, world-readable", "profiles:\n  p: {client_id: c, client_secret: s}\n", 0o644, "has mode 0644 and holds secrets"},
		{"secret in a file, world-readable", "profiles:\n  p: {client_id: c, client_secret_file: /s}\n", 0o644, ""},
		{"bad field names the file", "profiles:\n  p: {client: c}\n", 0o600, "profiles file "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // umask
				t.Fatal(err)
			}
			_, err := Load(path)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path)):
				t.Fatalf("err = %v, want %q naming %s", err, tc.want, path)
			}
		})
	}
}

func TestSave_WritesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "profiles.yaml")
	f := File{Path: path, Profiles: map[string]Profile{"p": {Issuer: "https://a", ClientID: "c", ClientSecret: "s"}}}
	if err := Save(f); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat = %v, %v; want mode 0600", fi, err)
	}
	got, err := Load(path)
	if err != nil || !reflect.DeepEqual(got, f) {
		t.Errorf("Load = %+v, %v; want %+v", got, err, f)
	}
}

func TestProfile_SecretSourceNeverShowsTheSecret(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "s")
	_ = os.WriteFile(secretFile, []byte("  kss_from_file\n"), 0o600)
	t.Setenv("PROFILE_PKG_SECRET", "kss_from_env")
	for _, tc := range []struct {
		p    Profile
		want string
	}{
		{Profile{ClientSecretFile: secretFile}, "kss_from_file"},
		{Profile{ClientSecretEnv: "PROFILE_PKG_SECRET"}, "kss_from_env"},
		{Profile{ClientSecret: "kss_inline"}, "kss_inline"},
	} {
		f, err := tc.p.SecretFunc()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f(t.Context()); err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v", tc.p.SecretSource(), got, err)
		}
		if strings.Contains(tc.p.SecretSource(), tc.want) {
			t.Errorf("SecretSource shows the secret: %q", tc.p.SecretSource())
		}
	}
	if _, err := (Profile{ClientSecret: "a", ClientSecretEnv: "B"}).SecretFunc(); err == nil {
		t.Error("two secret sources accepted")
	}
}
