package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// Principals the tests act as, and the bearer tokens that name them.
var (
	operator    = Principal{Subject: "ksc_operator", ClientID: "ksc_operator", Tenant: store.PlatformTenant, Scopes: []string{oauth.ScopeAdmin}}
	acmeAdmin   = Principal{Subject: "ksc_acmeadmin", ClientID: "ksc_acmeadmin", Tenant: "acme", Scopes: []string{oauth.ScopeTenantAdmin}}
	globexAdmin = Principal{Subject: "ksc_globexadmin", ClientID: "ksc_globexadmin", Tenant: "globex", Scopes: []string{oauth.ScopeTenantAdmin}}
	// platformAdmin is a tenant admin of the platform tenant: not an operator.
	platformAdmin = Principal{Subject: "ksc_platadmin", ClientID: "ksc_platadmin", Tenant: store.PlatformTenant, Scopes: []string{oauth.ScopeTenantAdmin}}
	acmeReader    = Principal{Subject: "ksc_reader", ClientID: "ksc_reader", Tenant: "acme", Scopes: []string{"core.invoice.read"}}
)

const (
	tokOperator = "tok-operator"
	tokAcme     = "tok-acme"
	tokGlobex   = "tok-globex"
	tokPlatform = "tok-platform"
	tokReader   = "tok-reader"
)

// staticAuth is a fake Authenticator: validating tokens is the token
// endpoint's job, tested in its own package.
type staticAuth map[string]Principal

var errUnknownToken = errors.New("unknown token")

func (s staticAuth) Authenticate(_ context.Context, bearer string) (Principal, error) {
	p, ok := s[bearer]
	if !ok {
		return Principal{}, errUnknownToken
	}
	return p, nil
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	st    store.Store
	api   *API
	srv   *httptest.Server
	clock *testClock
	ring  *signing.Keyring
}

var testStart = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// newEnv opens a real SQLite store, bootstraps it, seeds tenants acme and
// globex and a few catalogue scopes, and serves the admin API.
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{t: testStart}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyshift.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := Bootstrap(ctx, st, clock.Now); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatalf("sealer: %v", err)
	}
	ring, err := signing.New(ctx, st, sealer, signing.Config{Now: clock.Now, RotateEvery: -1})
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	auth := staticAuth{tokOperator: operator, tokAcme: acmeAdmin, tokGlobex: globexAdmin, tokPlatform: platformAdmin, tokReader: acmeReader}
	api := New(st, auth, ring, Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 4096, Sealer: sealer})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, id := range []string{"acme", "globex"} {
		if _, err := api.CreateTenant(ctx, operator, CreateTenantRequest{ID: id, Name: strings.ToUpper(id[:1]) + id[1:] + " Corp"}); err != nil {
			t.Fatalf("seed tenant %s: %v", id, err)
		}
	}
	for name, perms := range map[string][]string{
		"core.invoice.read":  {"invoices:read"},
		"core.invoice.write": {"invoices:write"},
		"core.supplier.read": {"suppliers:read"},
	} {
		if _, err := api.PutScope(ctx, operator, name, PutScopeRequest{Description: name, Permissions: perms}); err != nil {
			t.Fatalf("seed scope %s: %v", name, err)
		}
	}
	return &env{st: st, api: api, srv: srv, clock: clock, ring: ring}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map (or fails the test).
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode body %q: %v", r.body, err)
	}
	return m
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode body %q: %v", r.body, err)
	}
}

// problem decodes a problem answer and checks its shape.
func (r response) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q (body %s)", ct, ProblemContentType, r.body)
	}
	var p Problem
	r.decode(t, &p)
	if p.Status != r.status || p.Title == "" || !strings.HasPrefix(p.Type, problemTypeBase) {
		t.Fatalf("malformed problem %+v for status %d", p, r.status)
	}
	return p
}

// call sends a request; body is sent as is when it is a string, else as JSON.
func (e *env) call(t *testing.T, token, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, req)
}

func (e *env) send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// auditCount counts audit events with this action (and object id, if set).
func (e *env) auditCount(t *testing.T, action, objectID string) int {
	t.Helper()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action, ObjectID: objectID, Limit: 1000})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	return len(evs)
}

// mustCreateClient creates a client of tenant as the operator.
func (e *env) mustCreateClient(t *testing.T, tenant string, req CreateClientRequest) CreateClientResponse {
	t.Helper()
	if req.Name == "" {
		req.Name = "Integration"
	}
	if req.Scopes == nil {
		req.Scopes = []string{"core.invoice.read"}
	}
	c, err := e.api.CreateClient(context.Background(), operator, tenant, req)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c
}

func fieldsOf(p Problem) []string {
	var out []string
	for _, fe := range p.Errors {
		out = append(out, fe.Field)
	}
	return out
}
