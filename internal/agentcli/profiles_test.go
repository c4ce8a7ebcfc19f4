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
