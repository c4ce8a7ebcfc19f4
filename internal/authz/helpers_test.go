package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// testClock is a settable clock shared by the store, the keyring and the
// server under test. It starts at the real time so third-party verifiers
// using their own clocks agree with it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a running authorization server on a real listener, a real SQLite
// store and a real keyring.
type env struct {
	t     testing.TB
	ctx   context.Context
	clock *testClock
	st    store.Store
	keys  *signing.Keyring
	srv   *Server
	ts    *httptest.Server
	reg   *prometheus.Registry
}

// newEnv starts a server. mod may change the configuration; by default the
// failure limiter is generous so tests of other behaviour do not trip it.
func newEnv(t testing.TB, mod ...func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, func(ctx context.Context, clock *testClock, log *slog.Logger) store.Store {
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ks.db"), sqlite.Options{Now: clock.Now, Logger: log})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}, mod...)
}

// newEnvOn is newEnv on the store open returns.
func newEnvOn(t testing.TB, open func(context.Context, *testClock, *slog.Logger) store.Store, mod ...func(*Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	log := slog.New(slog.DiscardHandler)
	st := open(ctx, clock, log)
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := signing.New(ctx, st, sealer, signing.Config{Now: clock.Now, Logger: log})
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	reg := prometheus.NewRegistry()
	cfg := Config{Issuer: ts.URL, Now: clock.Now, Logger: log, Registerer: reg, FailureBurst: 10_000}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := New(cfg, st, keys)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	srv.Register(mux)
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	return &env{t: t, ctx: ctx, clock: clock, st: st, keys: keys, srv: srv, ts: ts, reg: reg}
}

// tenant creates a tenant with the given status.
func (e *env) tenant(id, status string) {
	e.t.Helper()
	err := e.st.Tx(e.ctx, func(tx store.Tx) error {
		return tx.CreateTenant(e.ctx, store.Tenant{ID: id, Name: id, Status: status})
	})
	if err != nil {
		e.t.Fatalf("create tenant %s: %v", id, err)
	}
}

// testClient is a client created for a test, with its plain secret.
type testClient struct {
	ID, Tenant, Secret string
}

// client creates an active client_credentials client in tenant with scopes;
// mod may change the record before it is written.
func (e *env) client(tenant string, scopes []string, mod ...func(*store.Client)) testClient {
	e.t.Helper()
	secret := credential.New(credential.PrefixClientSecret)
	h := credential.Hash(secret)
	c := store.Client{
		ID: credential.ID("ksc_", 22), Tenant: tenant, Name: "test client",
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: scopes,
		AuthMethod: oauth.AuthClientSecretBasic, Status: store.StatusActive,
		Secrets: []store.ClientSecret{{ID: credential.ID("sec_", 12), Hash: h[:], Hint: credential.Hint(secret), CreatedAt: e.clock.Now()}},
	}
	for _, m := range mod {
		m(&c)
	}
	if err := e.st.Tx(e.ctx, func(tx store.Tx) error { return tx.CreateClient(e.ctx, c) }); err != nil {
		e.t.Fatalf("create client: %v", err)
	}
	e.waitFor(func() bool { cl, _ := e.srv.clients.lookup(c.ID); return cl != nil })
	return testClient{ID: c.ID, Tenant: tenant, Secret: secret}
}

// updateClient changes a client in the store.
func (e *env) updateClient(id string, fn func(*store.Client)) {
	e.t.Helper()
	err := e.st.Tx(e.ctx, func(tx store.Tx) error {
		return tx.UpdateClient(e.ctx, id, func(c store.Client) (store.Client, error) { fn(&c); return c, nil })
	})
	if err != nil {
		e.t.Fatalf("update client %s: %v", id, err)
	}
}

// waitFor polls cond for up to a second (the change feed is asynchronous).
func (e *env) waitFor(cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatal("condition not met within 1s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reply is a decoded HTTP response.
type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r reply) str(k string) string { s, _ := r.json[k].(string); return s }

// do sends a request to the server and decodes a JSON answer.
func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: body}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(body) > 0 {
		if err := json.Unmarshal(body, &r.json); err != nil {
			e.t.Fatalf("decode %q: %v", body, err)
		}
	}
	return r
}

// post sends a form POST to path, with Basic credentials when c is given.
func (e *env) post(path string, c *testClient, vals url.Values) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.Header.Set("Authorization", "Basic "+basicOf(c.ID, c.Secret))
	}
	return e.do(req)
}

// token obtains an access token for c with Basic authentication.
func (e *env) token(c testClient, scope string) string {
	e.t.Helper()
	v := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	if scope != "" {
		v.Set("scope", scope)
	}
	r := e.post(oauth.PathToken, &c, v)
	if r.status != http.StatusOK {
		e.t.Fatalf("token for %s: %d %s", c.ID, r.status, r.body)
	}
	return r.str("access_token")
}

func basicOf(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

// jwtHeader decodes the protected header of a compact JWS.
func jwtHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

// jwtClaims decodes the payload of a compact JWS without verifying it.
func jwtClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return c
}
