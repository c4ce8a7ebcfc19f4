package oauth

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestPrivateJWKMember(t *testing.T) {
	for _, tt := range []struct {
		name, jwk, want string
	}{
		{"EC public key", `{"kty":"EC","crv":"P-256","x":"a","y":"b"}`, ""},
		{"EC private key", `{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}`, "d"},
		{"RSA private key without d", `{"kty":"RSA","n":"a","e":"AQAB","p":"b"}`, "p"},
		{"symmetric key", `{"kty":"oct","k":"AA"}`, "k"},
		{"post-quantum private key", `{"kty":"AKP","pub":"a","priv":"b"}`, "priv"},
	} {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(tt.jwk), &m); err != nil {
			t.Fatal(err)
		}
		if got := PrivateJWKMember(m); got != tt.want {
			t.Errorf("%s: PrivateJWKMember = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUsesSecret(t *testing.T) {
	for _, m := range AuthMethods() {
		want := m == AuthClientSecretBasic || m == AuthClientSecretPost
		if got := UsesSecret(m); got != want {
			t.Errorf("UsesSecret(%q) = %v, want %v", m, got, want)
		}
	}
	if !UsesSecret("") {
		t.Error(`UsesSecret("") = false; "" is client_secret_basic`)
	}
}

func TestLists_FreshCopies(t *testing.T) {
	g := GrantTypes()
	g[0] = "changed"
	if slices.Contains(GrantTypes(), "changed") {
		t.Error("GrantTypes shares its slice")
	}
	a := AuthMethods()
	a[0] = "changed"
	if slices.Contains(AuthMethods(), "changed") {
		t.Error("AuthMethods shares its slice")
	}
}
