package admincli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/admin"
)

func TestClientsVerbs_OIDCFlags(t *testing.T) {
	setup(t)
	mustRun(t, "tenants", "create", "acme", "--name", "Acme Corp")
	mustRun(t, "scopes", "set", "core.invoice.read", "--permission", "invoices:read")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "erp-2026"}}})
	dir := t.TempDir()
	jwksPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, set, 0o600); err != nil {
		t.Fatal(err)
	}

	// A private_key_jwt client: no secret is printed.
	r := run(t, "", "clients", "create", "acme", "--name", "ERP", "--scope", "core.invoice.read",
		"--auth-method", "private_key_jwt", "--jwks-file", jwksPath, "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var created admin.CreateClientResponse
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.ClientSecret != "" ||
		created.AuthMethod != "private_key_jwt" || !strings.Contains(string(created.JWKS), "erp-2026") {
		t.Fatalf("create json %s: %v", r.stdout, err)
	}
	if strings.Contains(r.stderr, "shown only now") || strings.Contains(r.stdout, "client_secret") {
		t.Errorf("a secret was announced: %s %s", r.stdout, r.stderr)
	}
	if out := mustRun(t, "clients", "show", "acme", created.ClientID); !strings.Contains(out, "1 key(s): EC erp-2026") {
		t.Errorf("show: %s", out)
	}
	out := mustRun(t, "clients", "update", "acme", created.ClientID, "--jwks-uri", "https://erp.example/jwks.json", "-o", "json")
	var upd admin.ClientView
	if err := json.Unmarshal([]byte(out), &upd); err != nil || upd.JWKSURI != "https://erp.example/jwks.json" || len(upd.JWKS) != 0 {
		t.Errorf("update --jwks-uri: %s %v", out, err)
	}

	// A public app with the code flow.
	r = run(t, "", "clients", "create", "acme", "--name", "Mobile", "--scope", "core.invoice.read",
		"--auth-method", "none", "--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", "com.example.app:/cb", "--post-logout-redirect-uri", "com.example.app:/bye",
		"--id-token-alg", "ES256", "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var pub admin.CreateClientResponse
	if err := json.Unmarshal([]byte(r.stdout), &pub); err != nil || pub.ClientSecret != "" ||
		!slices.Equal(pub.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
		!slices.Equal(pub.PostLogoutRedirectURIs, []string{"com.example.app:/bye"}) || pub.IDTokenAlg != "ES256" {
		t.Fatalf("public client %s: %v", r.stdout, err)
	}
	out = mustRun(t, "clients", "update", "acme", pub.ClientID, "--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "-o", "json")
	if !strings.Contains(out, `"urn:ietf:params:oauth:grant-type:device_code"`) || strings.Contains(out, `"authorization_code"`) {
		t.Errorf("update --grant-type: %s", out)
	}

	// Refusals: the API's words, or the file's name.
	notJSON := filepath.Join(dir, "notjson")
	_ = os.WriteFile(notJSON, []byte("-----BEGIN PUBLIC KEY-----"), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth-method", "none"}, "client_credentials"},
		{[]string{"--auth-method", "private_key_jwt", "--jwks-file", filepath.Join(dir, "missing.json")}, "--jwks-file"},
		{[]string{"--auth-method", "private_key_jwt", "--jwks-file", notJSON}, "not valid JSON"},
		{[]string{"--grant-type", "authorization_code"}, "redirect_uris"},
		{[]string{"--id-token-alg", "HS256"}, "id_token_signed_response_alg"},
	} {
		args := append([]string{"clients", "create", "acme", "--name", "X", "--scope", "core.invoice.read"}, tt.args...)
		if r := run(t, "", args...); r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want mention of %q", tt.args, r.err, tt.want)
		}
	}
}
