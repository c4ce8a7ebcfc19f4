package admin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Test keys, generated once: RSA is slow under the race detector.
var (
	jwkOnce sync.Once
	jwkKeys map[string]crypto.Signer
)

func testSigners(t testing.TB) map[string]crypto.Signer {
	t.Helper()
	jwkOnce.Do(func() {
		r2048, err1 := rsa.GenerateKey(rand.Reader, 2048)
		r1024, err2 := rsa.GenerateKey(rand.Reader, 1024)
		ec256, err3 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ec384, err4 := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		_, ed, err5 := ed25519.GenerateKey(rand.Reader)
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				panic(err)
			}
		}
		jwkKeys = map[string]crypto.Signer{"rsa": r2048, "rsa1024": r1024, "ec": ec256, "ec384": ec384, "ed": ed}
	})
	return jwkKeys
}

// jwk is the JSON of the public key name with kid ("" for none).
func jwk(t testing.TB, name, kid string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: testSigners(t)[name].Public(), KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// privateJWK is the JSON of the private key name.
func privateJWK(t testing.TB, name string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: testSigners(t)[name], KeyID: "priv"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jwksJSON(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

func TestCreateClient_OIDCValidation(t *testing.T) {
	ecSet := jwksJSON(jwk(t, "ec", "k1"))
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantField  string
	}{
		{"public code client", `{"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","redirect_uris":["com.example.app:/cb","http://localhost:8400/cb","http://[::1]:8400/cb"]}`, 201, ""},
		{"public device client", `{"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"token_endpoint_auth_method":"none"}`, 201, ""},
		{"confidential code client", `{"grant_types":["authorization_code","client_credentials"],"redirect_uris":["https://app.example/cb"],"id_token_signed_response_alg":"ES256","post_logout_redirect_uris":["https://app.example/bye"]}`, 201, ""},
		{"key client by value", `{"token_endpoint_auth_method":"private_key_jwt","jwks":` + ecSet + `}`, 201, ""},
		{"key client by uri", `{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example/jwks.json"}`, 201, ""},
		{"code grant without redirect", `{"grant_types":["authorization_code"]}`, 400, "redirect_uris"},
		{"public client defaulting to client_credentials", `{"token_endpoint_auth_method":"none"}`, 400, "grant_types"},
		{"public client with client_credentials", `{"grant_types":["client_credentials","authorization_code"],"token_endpoint_auth_method":"none","redirect_uris":["https://app.example/cb"]}`, 400, "grant_types"},
		{"refresh alone", `{"grant_types":["refresh_token"]}`, 400, "grant_types"},
		{"password grant", `{"grant_types":["password"]}`, 400, "grant_types[0]"},
		{"implicit grant", `{"grant_types":["implicit"]}`, 400, "grant_types[0]"},
		{"empty grant list", `{"grant_types":[]}`, 201, ""}, // absent and empty both mean the default
		{"client_secret_jwt", `{"token_endpoint_auth_method":"client_secret_jwt"}`, 400, "token_endpoint_auth_method"},
		{"key client without keys", `{"token_endpoint_auth_method":"private_key_jwt"}`, 400, "jwks"},
		{"key client with both", `{"token_endpoint_auth_method":"private_key_jwt","jwks":` + ecSet + `,"jwks_uri":"https://app.example/jwks.json"}`, 400, "jwks"},
		{"jwks on a secret client", `{"jwks":` + ecSet + `}`, 400, "jwks"},
		{"jwks_uri on a public client", `{"grant_types":["authorization_code"],"token_endpoint_auth_method":"none","redirect_uris":["https://app.example/cb"],"jwks_uri":"https://app.example/jwks.json"}`, 400, "jwks"},
		{"jwks_uri plain http", `{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://app.example/jwks.json"}`, 400, "jwks_uri"},
		{"jwks_uri relative", `{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"/jwks.json"}`, 400, "jwks_uri"},
		{"jwks with a private key", `{"token_endpoint_auth_method":"private_key_jwt","jwks":` + jwksJSON(privateJWK(t, "ec")) + `}`, 400, "jwks.keys[0]"},
		{"jwks not a set", `{"token_endpoint_auth_method":"private_key_jwt","jwks":[1]}`, 400, "jwks"},
		{"id token HS256", `{"id_token_signed_response_alg":"HS256"}`, 400, "id_token_signed_response_alg"},
		{"id token none", `{"id_token_signed_response_alg":"none"}`, 400, "id_token_signed_response_alg"},
		{"post logout plain http", `{"post_logout_redirect_uris":["http://app.example/bye"]}`, 400, "post_logout_redirect_uris[0]"},
		{"custom scheme without a dot", `{"grant_types":["authorization_code"],"redirect_uris":["myapp:/cb"]}`, 400, "redirect_uris[0]"},
		{"custom scheme with a fragment", `{"grant_types":["authorization_code"],"redirect_uris":["com.example.app:/cb#x"]}`, 400, "redirect_uris[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := `{"name":"a","scopes":["core.invoice.read"],` + strings.TrimPrefix(tt.body, "{")
			r := e.call(t, tokOperator, http.MethodPost, "/admin/v1/tenants/acme/clients", body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if r.status == http.StatusCreated {
				return
			}
			p := r.problem(t)
			if !slices.Contains(fieldsOf(p), tt.wantField) {
				t.Errorf("errors = %v, want %q", p.Errors, tt.wantField)
			}
			if cs, _ := e.st.ListClients(context.Background(), ""); len(cs) != 0 {
				t.Errorf("%d clients stored after a failed create", len(cs))
			}
			if n := e.auditCount(t, "client.create", ""); n != 0 {
				t.Errorf("audit events = %d after a failed create", n)
			}
		})
	}
}

func TestCreateClient_KeyAndPublicClients_NoSecret(t *testing.T) {
	ecKey := jwk(t, "ec", "k1")
	tests := []struct {
		name, body  string
		wantInAudit []string
	}{
		{"private_key_jwt by value", `{"name":"a","scopes":["core.invoice.read"],"token_endpoint_auth_method":"private_key_jwt","jwks":` + jwksJSON(ecKey) + `}`,
			[]string{`"jwks_thumbprints":["`, `"token_endpoint_auth_method":"private_key_jwt"`}},
		{"private_key_jwt by uri", `{"name":"a","scopes":["core.invoice.read"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example/jwks.json"}`,
			[]string{`"jwks_uri":"https://app.example/jwks.json"`}},
		{"public app", `{"name":"a","scopes":["openid"],"token_endpoint_auth_method":"none","grant_types":["authorization_code"],"redirect_uris":["com.example.app:/cb"],"post_logout_redirect_uris":["com.example.app:/bye"],"id_token_signed_response_alg":"EdDSA"}`,
			[]string{`"redirect_uris":["com.example.app:/cb"]`, `"post_logout_redirect_uris":["com.example.app:/bye"]`, `"id_token_signed_response_alg":"EdDSA"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients", tt.body)
			if r.status != http.StatusCreated {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			m := r.json(t)
			if _, has := m["client_secret"]; has {
				t.Errorf("answer has a client_secret: %s", r.body)
			}
			id, _ := m["client_id"].(string)
			stored, err := e.st.GetClient(context.Background(), id)
			if err != nil || len(stored.Secrets) != 0 {
				t.Fatalf("stored secrets = %+v, %v", stored.Secrets, err)
			}
			evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "client.create", ObjectID: id})
			if len(evs) != 1 {
				t.Fatalf("audit events = %d", len(evs))
			}
			for _, want := range tt.wantInAudit {
				if !strings.Contains(string(evs[0].Details), want) {
					t.Errorf("audit details %s lack %s", evs[0].Details, want)
				}
			}
			if strings.Contains(string(evs[0].Details), `"secret_id"`) {
				t.Errorf("audit names a secret: %s", evs[0].Details)
			}
			// It has no secret to rotate either.
			rr := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients/"+id+"/secrets", nil)
			if rr.status != http.StatusConflict {
				t.Errorf("rotate = %d: %s", rr.status, rr.body)
			}
			if after, _ := e.st.GetClient(context.Background(), id); len(after.Secrets) != 0 {
				t.Errorf("rotation stored a secret")
			}
		})
	}
}

func TestCreateClient_JWKSShownAndStoredCompact(t *testing.T) {
	e := newEnv(t)
	set := "{ \"keys\" : [ " + jwk(t, "ed", "") + " ] }"
	c := e.mustCreateClient(t, "acme", CreateClientRequest{AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: json.RawMessage(set)})
	stored, _ := e.st.GetClient(context.Background(), c.ClientID)
	if strings.Contains(string(stored.JWKS), " ") || !json.Valid(stored.JWKS) {
		t.Errorf("stored jwks = %s", stored.JWKS)
	}
	r := e.call(t, tokAcme, http.MethodGet, "/admin/v1/tenants/acme/clients/"+c.ClientID, nil)
	var v ClientView
	r.decode(t, &v)
	if string(v.JWKS) != string(stored.JWKS) || v.AuthMethod != oauth.AuthPrivateKeyJWT {
		t.Errorf("view = %+v", v)
	}
}

func TestUpdateClient_OIDCFields(t *testing.T) {
	ecSet := jwksJSON(jwk(t, "ec", "k1"))
	edSet := jwksJSON(jwk(t, "ed", "k2"))
	secretClient := CreateClientRequest{}
	keyClient := CreateClientRequest{AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: json.RawMessage(ecSet)}
	uriClient := CreateClientRequest{AuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: "https://app.example/jwks.json"}
	tests := []struct {
		name       string
		start      CreateClientRequest
		body       string
		wantStatus int
		wantField  string
		check      func(t *testing.T, c store.Client)
	}{
		{"to private_key_jwt drops secrets", secretClient, `{"token_endpoint_auth_method":"private_key_jwt","jwks":` + ecSet + `}`, 200, "", func(t *testing.T, c store.Client) {
			if c.AuthMethod != oauth.AuthPrivateKeyJWT || len(c.Secrets) != 0 || len(c.JWKS) == 0 {
				t.Errorf("client = %+v", c)
			}
		}},
		{"to private_key_jwt without keys", secretClient, `{"token_endpoint_auth_method":"private_key_jwt"}`, 400, "jwks", nil},
		{"to none keeping client_credentials", secretClient, `{"token_endpoint_auth_method":"none"}`, 400, "grant_types", nil},
		{"to public code client", secretClient, `{"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"redirect_uris":["http://127.0.0.1:9000/cb"]}`, 200, "", func(t *testing.T, c store.Client) {
			if c.AuthMethod != oauth.AuthNone || len(c.Secrets) != 0 || !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) {
				t.Errorf("client = %+v", c)
			}
		}},
		{"code grant without redirect", secretClient, `{"grant_types":["authorization_code"]}`, 400, "redirect_uris", nil},
		{"empty grant list", secretClient, `{"grant_types":[]}`, 400, "grant_types", nil},
		{"id token alg and logout uris", secretClient, `{"id_token_signed_response_alg":"ES256","post_logout_redirect_uris":["https://app.example/bye"]}`, 200, "", func(t *testing.T, c store.Client) {
			if c.IDTokenAlg != "ES256" || !slices.Equal(c.PostLogoutRedirectURIs, []string{"https://app.example/bye"}) || len(c.Secrets) != 1 {
				t.Errorf("client = %+v", c)
			}
		}},
		{"bad id token alg", secretClient, `{"id_token_signed_response_alg":"RS512"}`, 400, "id_token_signed_response_alg", nil},
		{"jwks on a secret client", secretClient, `{"jwks":` + ecSet + `}`, 400, "jwks", nil},
		{"jwks_uri replaces jwks", keyClient, `{"jwks_uri":"https://app.example/jwks.json"}`, 200, "", func(t *testing.T, c store.Client) {
			if c.JWKSURI != "https://app.example/jwks.json" || len(c.JWKS) != 0 {
				t.Errorf("client = %+v", c)
			}
		}},
		{"jwks replaces jwks", keyClient, `{"jwks":` + edSet + `}`, 200, "", func(t *testing.T, c store.Client) {
			if !strings.Contains(string(c.JWKS), `"k2"`) || c.JWKSURI != "" {
				t.Errorf("client = %+v", c)
			}
		}},
		{"empty jwks_uri keeps jwks", keyClient, `{"jwks_uri":""}`, 200, "", func(t *testing.T, c store.Client) {
			if len(c.JWKS) == 0 || c.JWKSURI != "" {
				t.Errorf("client = %+v", c)
			}
		}},
		{"clearing the only keys", uriClient, `{"jwks_uri":""}`, 400, "jwks", nil},
		{"key client back to secrets clears keys", keyClient, `{"token_endpoint_auth_method":"client_secret_post"}`, 200, "", func(t *testing.T, c store.Client) {
			if c.AuthMethod != oauth.AuthClientSecretPost || len(c.JWKS) != 0 || c.JWKSURI != "" || len(c.Secrets) != 0 {
				t.Errorf("client = %+v", c)
			}
		}},
		{"private key in jwks", keyClient, `{"jwks":` + jwksJSON(privateJWK(t, "ed")) + `}`, 400, "jwks.keys[0]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.mustCreateClient(t, "acme", tt.start)
			before, _ := e.st.GetClient(context.Background(), c.ClientID)
			r := e.call(t, tokAcme, http.MethodPatch, "/admin/v1/tenants/acme/clients/"+c.ClientID, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			after, _ := e.st.GetClient(context.Background(), c.ClientID)
			n := e.auditCount(t, "client.update", c.ClientID)
			if r.status != http.StatusOK {
				if p := r.problem(t); !slices.Contains(fieldsOf(p), tt.wantField) {
					t.Errorf("errors = %v, want %q", p.Errors, tt.wantField)
				}
				if n != 0 || !after.UpdatedAt.Equal(before.UpdatedAt) || after.AuthMethod != before.AuthMethod || len(after.Secrets) != len(before.Secrets) {
					t.Errorf("failed update changed the client (audit %d): %+v", n, after)
				}
				return
			}
			tt.check(t, after)
			if n != 1 {
				t.Errorf("audit events = %d, want 1", n)
			}
		})
	}
}

func TestUpdateClient_ToKeyClient_AuditRecordsDroppedSecretsNotValues(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	body := fmt.Sprintf(`{"token_endpoint_auth_method":"private_key_jwt","jwks":%s}`, jwksJSON(jwk(t, "rsa", "r1")))
	if r := e.call(t, tokAcme, http.MethodPatch, "/admin/v1/tenants/acme/clients/"+c.ClientID, body); r.status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "client.update", ObjectID: c.ClientID})
	if len(evs) != 1 {
		t.Fatalf("audit events = %d", len(evs))
	}
	d := string(evs[0].Details)
	for _, want := range []string{`"secrets_dropped":1`, `"jwks_thumbprints":["`, `"token_endpoint_auth_method":"private_key_jwt"`} {
		if !strings.Contains(d, want) {
			t.Errorf("details %s lack %s", d, want)
		}
	}
	if strings.Contains(d, c.ClientSecret) || strings.Contains(d, `"n":`) {
		t.Errorf("details carry a secret or key material: %s", d)
	}
}

func TestCheckJWKS(t *testing.T) {
	ec := func(kid string) string { return jwk(t, "ec", kid) }
	withMember := func(key, member string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(key), &m)
		k, v, _ := strings.Cut(member, "=")
		m[k] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	many := make([]string, 11)
	for i := range many {
		many[i] = ec(fmt.Sprintf("k%d", i))
	}
	tests := []struct {
		name  string
		set   string
		field string // "" when valid
	}{
		{"EC P-256", jwksJSON(ec("a")), ""},
		{"RSA 2048", jwksJSON(jwk(t, "rsa", "a")), ""},
		{"Ed25519", jwksJSON(jwk(t, "ed", "")), ""},
		{"three keys with kids", jwksJSON(ec("a"), jwk(t, "rsa", "b"), jwk(t, "ed", "c")), ""},
		{"ten keys", jwksJSON(many[:10]...), ""},
		{"alg and use given", jwksJSON(withMember(withMember(ec("a"), "alg=ES256"), "use=sig")), ""},
		{"eleven keys", jwksJSON(many...), "jwks.keys"},
		{"no keys", `{"keys":[]}`, "jwks.keys"},
		{"keys missing", `{"key":[]}`, "jwks"},
		{"an array", `[` + ec("a") + `]`, "jwks"},
		{"two keys without kids", jwksJSON(ec(""), jwk(t, "ed", "")), "jwks.keys[0]"},
		{"repeated kid", jwksJSON(ec("a"), jwk(t, "ed", "a")), "jwks.keys[1]"},
		{"private EC key", jwksJSON(privateJWK(t, "ec")), "jwks.keys[0]"},
		{"private RSA key", jwksJSON(privateJWK(t, "rsa")), "jwks.keys[0]"},
		{"private Ed25519 key", jwksJSON(privateJWK(t, "ed")), "jwks.keys[0]"},
		{"symmetric key", jwksJSON(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`), "jwks.keys[0]"},
		{"RSA 1024", jwksJSON(jwk(t, "rsa1024", "a")), "jwks.keys[0]"},
		{"EC P-384", jwksJSON(jwk(t, "ec384", "a")), "jwks.keys[0]"},
		{"alg of another key type", jwksJSON(withMember(ec("a"), "alg=RS256")), "jwks.keys[0]"},
		{"HS256 alg", jwksJSON(withMember(ec("a"), "alg=HS256")), "jwks.keys[0]"},
		{"encryption key", jwksJSON(withMember(ec("a"), "use=enc")), "jwks.keys[0]"},
		{"broken EC point", jwksJSON(`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`), "jwks.keys[0]"},
		{"too large", `{"keys":[` + ec("a") + `],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}`, "jwks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v validation
			out := checkJWKS(&v, []byte(tt.set))
			fields := fieldsOf(Problem{Errors: v})
			if tt.field == "" {
				if len(v) != 0 || !json.Valid(out) {
					t.Fatalf("refused: %v", v)
				}
				return
			}
			if !slices.Contains(fields, tt.field) {
				t.Fatalf("errors = %v, want %q", v, tt.field)
			}
		})
	}
}

func TestCheckRedirectURI(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example/cb?x=1", true},
		{"http://127.0.0.1:8400/cb", true},
		{"http://[::1]:8400/cb", true},
		{"http://localhost/cb", true},
		{"com.example.app:/oauth2redirect", true},
		{"com.example.app://callback/path", true},
		{"http://app.example/cb", false},
		{"http://10.0.0.1/cb", false},
		{"https://app.example/cb#frag", false},
		{"https://app.example/cb#", false},
		{"https://user:pw@app.example/cb", false},
		{"/cb", false},
		{"app.example/cb", false},
		{"myapp:/cb", false},
		{"com.example.app:cb", false},
		{"com.example.app:", false},
		{"com.example.app:/cb#x", false},
		{"javascript:alert(1)", false},
		{"data:text/html,x", false},
		{"https://" + strings.Repeat("a", 2100) + ".example/", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri[:min(len(tt.uri), 40)], func(t *testing.T) {
			if msg := checkRedirectURI(tt.uri); (msg == "") != tt.ok {
				t.Fatalf("checkRedirectURI(%q) = %q, want ok=%v", tt.uri, msg, tt.ok)
			}
		})
	}
}

// FuzzCheckJWKS checks that whatever checkJWKS accepts is a set of at most
// ten keys carrying no private member.
func FuzzCheckJWKS(f *testing.F) {
	for _, s := range []string{jwksJSON(jwk(f, "ec", "a")), jwksJSON(privateJWK(f, "ed")), `{"keys":[{}]}`, `{"keys":null}`, `[]`, `{"keys":[{"kty":"oct","k":"AA"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v validation
		out := checkJWKS(&v, []byte(s))
		if len(v) != 0 {
			return
		}
		var set struct{ Keys []map[string]json.RawMessage }
		if err := json.Unmarshal(out, &set); err != nil || len(set.Keys) == 0 || len(set.Keys) > maxJWKSKeys {
			t.Fatalf("accepted %q", s)
		}
		for _, k := range set.Keys {
			for _, m := range oauth.PrivateJWKMembers() {
				if _, ok := k[m]; ok {
					t.Fatalf("accepted a private member %q in %q", m, s)
				}
			}
		}
	})
}
