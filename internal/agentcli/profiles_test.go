package agentcli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/tokensource"
)

var fileCases = []struct {
	name, yaml string
	ok         bool
}{
	{"two environments", "default: production\nprofiles:\n  production: {issuer: https://a, client_id: c, client_secret_env: S}\n  test: {token_url: https://t/token, client_id: c}\n", true},
	{"empty file", "", true},
	{"misspelt field", "profiles:\n  prod:\n    client_secrett: x\n", false},
	{"default not defined", "default: stage\nprofiles:\n  prod: {client_id: c}\n", false},
	{"bad profile name", "profiles:\n  'prod/../x': {client_id: c}\n", false},
	{"not YAML", "profiles: [", false},
}

func TestParseFile(t *testing.T) {
	for _, tc := range fileCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseFile([]byte(tc.yaml)); (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func FuzzParseFile(f *testing.F) {
	for _, tc := range fileCases {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := ParseFile(b)
		if err != nil {
			return
		}
		for name := range file.Profiles {
			if safeName(name) != name || name == "" {
				t.Fatalf("accepted profile name %q", name)
			}
		}
	})
}

func TestProfile_SecretSources(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "s")
	_ = os.WriteFile(secretFile, []byte("  kss_from_file\n"), 0o600)
	t.Setenv("PROFILE_TEST_SECRET", "kss_from_env")
	for _, tc := range []struct {
		p    Profile
		want string
	}{
		{Profile{ClientSecretFile: secretFile}, "kss_from_file"},
		{Profile{ClientSecretEnv: "PROFILE_TEST_SECRET"}, "kss_from_env"},
		{Profile{ClientSecret: "kss_inline"}, "kss_inline"},
	} {
		f, err := tc.p.secretFunc()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f(t.Context()); err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v", tc.p.secretSource(), got, err)
		}
		if strings.Contains(tc.p.secretSource(), tc.want) {
			t.Errorf("secretSource shows the secret: %q", tc.p.secretSource())
		}
	}
	if _, err := (Profile{}).secretFunc(); err == nil {
		t.Error("no secret source accepted")
	}
}

func TestProfile_PrivateKeyFile_MeansPrivateKeyJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	path := filepath.Join(t.TempDir(), "key.pem")
	_ = os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	cfg, err := Profile{Issuer: "https://a", ClientID: "c", PrivateKeyFile: path, KeyID: "k1"}.tokenConfig("prod")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthMethod != tokensource.AuthPrivateKeyJWT || cfg.PrivateKey == nil || cfg.KeyID != "k1" || cfg.SecretFunc != nil {
		t.Errorf("config = %+v", cfg)
	}
	if _, err := (Profile{Issuer: "https://a", ClientID: "c", AuthMethod: "private_key_jwt"}).tokenConfig("p"); err == nil {
		t.Error("private_key_jwt without a key accepted")
	}
}
