package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/authz/authztest"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// The tests of this file are read-your-writes (issue 12): every admin
// write that the API has acknowledged is seen by the very next request to
// the same instance, without sleeping or polling in between. Each runs a
// tight loop of write-then-use against a real server, on SQLite and on
// PostgreSQL, through the real admin API, token endpoint, introspection,
// sign-in page and gateway.

// rywLoops is how many write-then-use rounds a test makes: before the fix,
// about one round in eight failed, so 50 rounds all passing by chance is
// well under one in a thousand.
const rywLoops = 50

// rywServer is a keyshift with the demo API behind its gateway.
type rywServer struct {
	t    *testing.T
	base string
	srv  *Server
	op   *OperatorCredentials
	// opAuth is the operator's bearer header for the admin API.
	opAuth string
	// addrs hands every credential check its own loopback source address,
	// so the per-address failure limiter never sees the refusals these
	// tests provoke on purpose.
	addrs atomic.Uint32
}

// forEachBackend runs test on a fresh server over SQLite and over
// PostgreSQL (skipped when no test database is configured).
func forEachBackend(t *testing.T, test func(t *testing.T, s *rywServer)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, startRYW(t, filepath.Join(t.TempDir(), "ks.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		test(t, startRYW(t, dsn+"&search_path="+pgtest.NewSchema(t, dsn)))
	})
}

func startRYW(t *testing.T, db string) *rywServer {
	t.Helper()
	ts := startServer(t, testServerOptions{
		db:      db,
		gateway: true,
		seed: func(ctx context.Context, st store.Store) {
			if err := demo.LoadCatalogue(ctx, admin.New(st, nil, nil, admin.Config{}), st, demo.Catalogue()); err != nil {
				t.Fatal(err)
			}
		},
	})
	base, srv, op := ts.base, ts.srv, ts.op
	s := &rywServer{t: t, base: base, srv: srv, op: op}
	// Serve starts the caches before it accepts; wait for the listener to
	// answer rather than for a fixed time.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server never answered")
		}
	}
	status, tok := s.token(op.ClientID, op.ClientSecret, "")
	if status != http.StatusOK {
		t.Fatalf("operator token: %d %v", status, tok)
	}
	s.opAuth = "Bearer " + tok["access_token"].(string)
	s.admin("POST", "/admin/v1/tenants", map[string]any{"id": "acme", "name": "Acme"}, http.StatusCreated, nil)
	return s
}

// client is an HTTP client whose connections come from a loopback address
// of their own.
func (s *rywServer) client() *http.Client {
	n := s.addrs.Add(1)
	ip := net.IPv4(127, 20+byte(n>>16), byte(n>>8), byte(n)|1) // never .0
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// admin calls the admin API as the operator and fails the test unless the
// answer has status want; the JSON answer is decoded into out when set.
func (s *rywServer) admin(method, path string, body any, want int, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", s.opAuth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// form posts f to an OAuth endpoint with client_secret_basic credentials
// and returns the status and JSON answer.
func (s *rywServer) form(path, id, secret string, f url.Values) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.base+path, strings.NewReader(f.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// token asks for a client_credentials token.
func (s *rywServer) token(id, secret, scope string) (int, map[string]any) {
	s.t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return s.form("/oauth2/token", id, secret, f)
}

// mustToken asks for a token and fails the test unless it is issued.
func (s *rywServer) mustToken(what, id, secret string) string {
	s.t.Helper()
	status, out := s.token(id, secret, "")
	if status != http.StatusOK {
		s.t.Fatalf("%s: token refused right after the write was acknowledged: %d %v", what, status, out)
	}
	return out["access_token"].(string)
}

// refuseToken fails the test unless the token request is refused as
// invalid_client.
func (s *rywServer) refuseToken(what, id, secret string) {
	s.t.Helper()
	status, out := s.token(id, secret, "")
	if status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		s.t.Fatalf("%s: token request right after the write was acknowledged: %d %v, want 401 invalid_client", what, status, out)
	}
}

// api calls the demo API through the gateway with one header set and
// returns the status.
func (s *rywServer) api(header, value string) int {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.base+"/api/whoami", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := s.client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type rywClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func (s *rywServer) createClient(tenant, name string) rywClient {
	s.t.Helper()
	var c rywClient
	s.admin("POST", "/admin/v1/tenants/"+tenant+"/clients",
		map[string]any{"name": name, "scopes": []string{"core.invoice.read"}}, http.StatusCreated, &c)
	return c
}

type rywKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

func (s *rywServer) createKey(tenant, name string) rywKey {
	s.t.Helper()
	var k rywKey
	s.admin("POST", "/admin/v1/tenants/"+tenant+"/keys",
		map[string]any{"name": name, "permissions": []string{"invoices:read"}}, http.StatusCreated, &k)
	return k
}

func (s *rywServer) introspectKey(key string) map[string]any {
	s.t.Helper()
	status, out := s.form("/oauth2/introspect", s.op.ClientID, s.op.ClientSecret,
		url.Values{"token": {key}, "token_type_hint": {"api_key"}})
	if status != http.StatusOK {
		s.t.Fatalf("introspect key: %d %v", status, out)
	}
	return out
}

// signIn signs in at keyshift's login page from an address of its own and
// reports whether the sign-in was accepted.
func (s *rywServer) signIn(tenant, login, pw string) bool {
	s.t.Helper()
	b := authztest.NewBrowser(s.t, s.base)
	b.Client.Transport = s.client().Transport
	b.Client.Timeout = 30 * time.Second
	p := b.SignIn(b.Get(s.base+"/oauth2/login?return=%2Fconsole%2F"), tenant, login, pw)
	if p.URL.Path == authztest.LoginPath {
		if p.Status != http.StatusBadRequest {
			s.t.Fatalf("sign-in of %s: status %d, want 400 or a redirect\n%s", login, p.Status, p.Body)
		}
		return false
	}
	return true
}

func TestReadYourWrites_ClientCreated_TokenAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			c := s.createClient("acme", fmt.Sprint("ci-", i))
			s.mustToken(fmt.Sprintf("round %d: new client", i), c.ID, c.Secret)
		}
	})
}

func TestReadYourWrites_SecretRotated_NewWorksAtOnce_RevokedRefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			// A client of its own each round: each refused old secret
			// counts a failed authentication against the client.
			c := s.createClient("acme", fmt.Sprint("rotating-", i))
			s.mustToken(fmt.Sprintf("round %d: new client", i), c.ID, c.Secret)
			var r rywClient
			s.admin("POST", "/admin/v1/tenants/acme/clients/"+c.ID+"/secrets",
				map[string]any{"revoke_previous": true}, http.StatusCreated, &r)
			s.refuseToken(fmt.Sprintf("round %d: revoked secret", i), c.ID, c.Secret)
			s.mustToken(fmt.Sprintf("round %d: new secret", i), c.ID, r.Secret)
		}
	})
}

func TestReadYourWrites_ClientDisabled_RefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			c := s.createClient("acme", fmt.Sprint("leaked-", i))
			tok := s.mustToken(fmt.Sprintf("round %d: new client", i), c.ID, c.Secret)
			if got := s.api("Authorization", "Bearer "+tok); got != http.StatusOK {
				t.Fatalf("round %d: gateway with the client's token: %d, want 200", i, got)
			}
			s.admin("PATCH", "/admin/v1/tenants/acme/clients/"+c.ID, map[string]any{"status": "disabled"}, http.StatusOK, nil)
			s.refuseToken(fmt.Sprintf("round %d: disabled client", i), c.ID, c.Secret)
			if got := s.api("Authorization", "Bearer "+tok); got != http.StatusUnauthorized {
				t.Fatalf("round %d: gateway with a disabled client's token: %d, want 401", i, got)
			}
		}
	})
}

func TestReadYourWrites_ClientDeleted_RefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			c := s.createClient("acme", fmt.Sprint("gone-", i))
			s.mustToken(fmt.Sprintf("round %d: new client", i), c.ID, c.Secret)
			s.admin("DELETE", "/admin/v1/tenants/acme/clients/"+c.ID, nil, http.StatusNoContent, nil)
			s.refuseToken(fmt.Sprintf("round %d: deleted client", i), c.ID, c.Secret)
		}
	})
}

func TestReadYourWrites_KeyCreated_AcceptedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			k := s.createKey("acme", fmt.Sprint("key-", i))
			if got := s.api("X-API-Key", k.Key); got != http.StatusOK {
				t.Fatalf("round %d: gateway with a new key: %d, want 200", i, got)
			}
			if in := s.introspectKey(k.Key); in["active"] != true {
				t.Fatalf("round %d: introspection of a new key: %v, want active", i, in)
			}
		}
	})
}

func TestReadYourWrites_KeyDisabledOrRevoked_RefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			status := []string{"disabled", "revoked"}[i%2]
			k := s.createKey("acme", fmt.Sprint("key-", i))
			// Use it first, so that the key service has it cached.
			if got := s.api("X-API-Key", k.Key); got != http.StatusOK {
				t.Fatalf("round %d: gateway with a new key: %d, want 200", i, got)
			}
			s.admin("PATCH", "/admin/v1/tenants/acme/keys/"+k.ID, map[string]any{"status": status}, http.StatusOK, nil)
			if got := s.api("X-API-Key", k.Key); got == http.StatusOK {
				t.Fatalf("round %d: gateway accepted a key just %s", i, status)
			}
			if in := s.introspectKey(k.Key); in["active"] != false {
				t.Fatalf("round %d: introspection of a key just %s: %v, want inactive", i, status, in)
			}
		}
	})
}

func TestReadYourWrites_KeyConverted_ClientTokenAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		for i := range rywLoops {
			k := s.createKey("acme", fmt.Sprint("key-", i))
			var c rywClient
			s.admin("POST", "/admin/v1/tenants/acme/keys/"+k.ID+"/convert", map[string]any{}, http.StatusCreated, &c)
			tok := s.mustToken(fmt.Sprintf("round %d: converted client", i), c.ID, c.Secret)
			if got := s.api("Authorization", "Bearer "+tok); got != http.StatusOK {
				t.Fatalf("round %d: gateway with the converted client's token: %d, want 200", i, got)
			}
		}
	})
}

func TestReadYourWrites_TenantDisabled_RefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		const pw = "a long enough password for the test"
		for i := range rywLoops {
			tenant := fmt.Sprint("t", i)
			s.admin("POST", "/admin/v1/tenants", map[string]any{"id": tenant, "name": tenant}, http.StatusCreated, nil)
			c := s.createClient(tenant, "erp")
			k := s.createKey(tenant, "erp")
			s.mustToken(fmt.Sprintf("round %d: client of a new tenant", i), c.ID, c.Secret)
			if got := s.api("X-API-Key", k.Key); got != http.StatusOK {
				t.Fatalf("round %d: gateway with a new tenant's key: %d, want 200", i, got)
			}
			signIn := i%10 == 0 // argon2id: a few rounds suffice
			if signIn {
				s.admin("POST", "/admin/v1/tenants/"+tenant+"/users", map[string]any{"login": "ada", "password": pw}, http.StatusCreated, nil)
			}
			s.admin("PATCH", "/admin/v1/tenants/"+tenant, map[string]any{"status": "disabled"}, http.StatusOK, nil)
			s.refuseToken(fmt.Sprintf("round %d: client of a disabled tenant", i), c.ID, c.Secret)
			if got := s.api("X-API-Key", k.Key); got == http.StatusOK {
				t.Fatalf("round %d: gateway accepted the key of a tenant just disabled", i)
			}
			if signIn && s.signIn(tenant, "ada", pw) {
				t.Fatalf("round %d: a user of a tenant just disabled signed in", i)
			}
		}
	})
}

func TestReadYourWrites_ScopeAdded_GrantedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		c := s.createClient("acme", "growing")
		scopes := []string{"core.invoice.read"}
		for i := range rywLoops {
			name := fmt.Sprintf("ryw.thing%d.read", i)
			s.admin("PUT", "/admin/v1/scopes/"+name, map[string]any{"description": name}, http.StatusOK, nil)
			scopes = append(scopes, name)
			s.admin("PATCH", "/admin/v1/tenants/acme/clients/"+c.ID, map[string]any{"scopes": scopes}, http.StatusOK, nil)
			status, out := s.token(c.ID, c.Secret, name)
			if status != http.StatusOK || !slices.Contains(strings.Fields(fmt.Sprint(out["scope"])), name) {
				t.Fatalf("round %d: token for scope %s just added: %d %v", i, name, status, out)
			}
		}
	})
}

func TestReadYourWrites_TimelineChanged_KeyDecisionAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		now := time.Now().UTC()
		past := map[string]any{"deprecated_at": now.AddDate(0, 0, -30), "no_new_keys_at": now.AddDate(0, 0, -20), "keys_off_at": now.AddDate(0, 0, -10)}
		future := map[string]any{"deprecated_at": now.AddDate(1, 0, 0), "no_new_keys_at": now.AddDate(2, 0, 0), "keys_off_at": now.AddDate(3, 0, 0)}
		for i := range rywLoops {
			// A key of its own each round: the gateway limits each key's
			// rate. It is created (and used) under the future timeline.
			s.admin("PUT", "/admin/v1/timeline", future, http.StatusOK, nil)
			k := s.createKey("acme", fmt.Sprint("legacy-", i))
			if got := s.api("X-API-Key", k.Key); got != http.StatusOK {
				t.Fatalf("round %d: gateway with a key right after the timeline moved keys off to the future: %d, want 200", i, got)
			}
			s.admin("PUT", "/admin/v1/timeline", past, http.StatusOK, nil)
			if got := s.api("X-API-Key", k.Key); got == http.StatusOK {
				t.Fatalf("round %d: gateway accepted a key right after the timeline turned keys off", i)
			}
		}
	})
}

func TestReadYourWrites_UserCreatedResetDisabled_SignInAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		const rounds = 4 // argon2id makes each sign-in costly
		for i := range rounds {
			login := fmt.Sprint("user", i)
			pw1, pw2 := fmt.Sprint("first password of user ", i), fmt.Sprint("second password of user ", i)
			var u struct {
				ID string `json:"id"`
			}
			s.admin("POST", "/admin/v1/tenants/acme/users", map[string]any{"login": login, "password": pw1}, http.StatusCreated, &u)
			if !s.signIn("acme", login, pw1) {
				t.Fatalf("round %d: a user just created could not sign in", i)
			}
			s.admin("POST", "/admin/v1/tenants/acme/users/"+u.ID+"/password", map[string]any{"password": pw2}, http.StatusOK, nil)
			if s.signIn("acme", login, pw1) {
				t.Fatalf("round %d: the old password worked right after a reset", i)
			}
			if !s.signIn("acme", login, pw2) {
				t.Fatalf("round %d: the new password did not work right after a reset", i)
			}
			s.admin("PATCH", "/admin/v1/tenants/acme/users/"+u.ID, map[string]any{"disabled": true}, http.StatusOK, nil)
			if s.signIn("acme", login, pw2) {
				t.Fatalf("round %d: a user just disabled signed in", i)
			}
		}
	})
}

func TestReadYourWrites_SigningKeyRotated_TokensVerifyAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		c := s.createClient("acme", "verifier")
		const rounds = 5 // each rotation makes a new key pair
		for i := range rounds {
			s.admin("POST", "/admin/v1/signing-keys/rotate", nil, http.StatusOK, nil)
			tok := s.mustToken(fmt.Sprintf("round %d: after rotation", i), c.ID, c.Secret)
			if got := s.api("Authorization", "Bearer "+tok); got != http.StatusOK {
				t.Fatalf("round %d: gateway with a token signed by the key just rotated in: %d, want 200", i, got)
			}
			if kid := tokenKID(t, tok); !slices.Contains(s.jwksKIDs(), kid) {
				t.Fatalf("round %d: JWKS right after rotation lacks the signing key %s", i, kid)
			}
		}
	})
}

func TestReadYourWrites_TokenRevoked_RefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *rywServer) {
		// Clients made beforehand, each waited for, so that only the
		// revocation is under test: one for every ten rounds, since the
		// gateway limits each client's rate.
		clients := make([]rywClient, rywLoops/10)
		for i := range clients {
			clients[i] = s.createClient("acme", fmt.Sprint("revoker-", i))
			for deadline := time.Now().Add(10 * time.Second); !s.srv.Authz.ClientActive(clients[i].ID); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("client %s never reached the token endpoint's cache", clients[i].ID)
				}
			}
		}
		for i := range rywLoops {
			c := clients[i/10]
			tok := s.mustToken(fmt.Sprintf("round %d", i), c.ID, c.Secret)
			if got := s.api("Authorization", "Bearer "+tok); got != http.StatusOK {
				t.Fatalf("round %d: gateway with a new token: %d, want 200", i, got)
			}
			if status, out := s.form("/oauth2/revoke", c.ID, c.Secret, url.Values{"token": {tok}}); status != http.StatusOK {
				t.Fatalf("round %d: revoke: %d %v", i, status, out)
			}
			if got := s.api("Authorization", "Bearer "+tok); got != http.StatusUnauthorized {
				t.Fatalf("round %d: gateway with a token just revoked: %d, want 401", i, got)
			}
		}
	})
}

// tokenKID returns the kid of a JWS's header.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var v struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return v.KID
}

// jwksKIDs returns the kids the JWKS endpoint publishes now.
func (s *rywServer) jwksKIDs() []string {
	s.t.Helper()
	resp, err := http.Get(s.base + "/.well-known/jwks.json")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		s.t.Fatalf("jwks: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}
