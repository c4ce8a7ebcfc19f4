package authz

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestDiscovery_ListsWhatExists(t *testing.T) {
	e := newEnv(t)
	err := e.st.Tx(e.ctx, func(tx store.Tx) error {
		return tx.PutScope(e.ctx, store.Scope{Name: "core.invoice.read", Description: "read invoices"})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{oauth.PathASMetadata, oauth.PathOIDCDiscovery} {
		t.Run(path, func(t *testing.T) {
			var md map[string]any
			e.waitFor(func() bool {
				req, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
				r := e.do(req)
				md = r.json
				return r.status == 200 && slices.Contains(toStrings(md["scopes_supported"]), "core.invoice.read")
			})
			want := map[string]string{
				"issuer": e.ts.URL, "token_endpoint": e.ts.URL + oauth.PathToken, "jwks_uri": e.ts.URL + oauth.PathJWKS,
				"introspection_endpoint": e.ts.URL + oauth.PathIntrospect, "revocation_endpoint": e.ts.URL + oauth.PathRevoke,
			}
			for k, v := range want {
				if md[k] != v {
					t.Errorf("%s = %v, want %s", k, md[k], v)
				}
			}
			wantGrants := []string{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials, oauth.GrantRefreshToken, oauth.GrantDeviceCode}
			slices.Sort(wantGrants)
			if g := toStrings(md["grant_types_supported"]); !slices.Equal(g, wantGrants) {
				t.Errorf("grant_types_supported %q, want %q", g, wantGrants)
			}
			for _, k := range []string{"token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
				if m := toStrings(md[k]); !slices.Equal(m, oauth.AuthMethods()) {
					t.Errorf("%s %q", k, m)
				}
			}
			if m := toStrings(md["introspection_endpoint_auth_methods_supported"]); slices.Contains(m, oauth.AuthNone) {
				t.Errorf("introspection lists the public method: %q", m)
			}
			for k, v := range map[string][]string{
				"response_types_supported":         {"code"},
				"code_challenge_methods_supported": {"S256"},
				"subject_types_supported":          {"public"},
			} {
				if got := toStrings(md[k]); !slices.Equal(got, v) {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if algs := toStrings(md["id_token_signing_alg_values_supported"]); !slices.Contains(algs, "RS256") {
				t.Errorf("id_token_signing_alg_values_supported %q lacks RS256 (OIDC Core §15.1)", algs)
			}
			if md["authorization_response_iss_parameter_supported"] != true {
				t.Error("RFC 9207 iss parameter not advertised")
			}
			// Every advertised endpoint exists: none answers 404.
			for _, k := range []string{"authorization_endpoint", "userinfo_endpoint", "end_session_endpoint", "device_authorization_endpoint", "token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"} {
				u, _ := md[k].(string)
				if !strings.HasPrefix(u, e.ts.URL+"/") {
					t.Errorf("%s = %q", k, u)
					continue
				}
				resp, err := e.ts.Client().Get(u)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound {
					t.Errorf("%s %s answers 404", k, u)
				}
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+oauth.PathASMetadata, nil)
	if r := e.do(req); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST on metadata: %d %v", r.status, r.header)
	}
}

func TestJWKS_ETagAndCaching(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathJWKS, nil)
	r := e.do(req)
	if r.status != 200 || r.header.Get("Content-Type") != "application/jwk-set+json" || r.header.Get("Cache-Control") != jwksCacheControl {
		t.Fatalf("jwks: %d %v", r.status, r.header)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks body %s: %v", r.body, err)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req, _ = http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathJWKS, nil)
	req.Header.Set("If-None-Match", etag)
	if r := e.do(req); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	// After a rotation the set changes and the old tag no longer matches.
	if err := e.keys.Rotate(e.ctx, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, e.ts.URL+oauth.PathJWKS, nil)
	req.Header.Set("If-None-Match", etag)
	if r := e.do(req); r.status != http.StatusOK || r.header.Get("ETag") == etag {
		t.Fatalf("after rotation: %d etag %q", r.status, r.header.Get("ETag"))
	}
	req, _ = http.NewRequest(http.MethodDelete, e.ts.URL+oauth.PathJWKS, nil)
	if r := e.do(req); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE on jwks: %d", r.status)
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
