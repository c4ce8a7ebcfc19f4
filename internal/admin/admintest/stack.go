// Package admintest runs a real keyshift admin stack for tests of admin API
// clients: a SQLite store, the signing keyring, the OAuth token endpoint and
// the admin API on one httptest server, with an operator client to call it.
package admintest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/authz"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// Stack is a running keyshift serving /oauth2/token and /admin/v1/.
type Stack struct {
	URL   string // issuer and admin base URL
	Store store.Store
	API   *admin.API
	// Operator credentials: a platform client with keyshift:admin.
	ClientID     string
	ClientSecret string
}

// Options change what New starts.
type Options struct {
	// Demo seeds the demo data: tenant acme, the procurement scope
	// catalogue, one client, one key and a timeline.
	Demo bool
	// Wrap, when set, wraps the stack's handler (to count or fail requests).
	Wrap func(http.Handler) http.Handler
}

// New starts a stack that lives until the test ends.
func New(t testing.TB) *Stack { return NewWith(t, Options{}) }

// NewWith starts a stack with options that lives until the test ends.
func NewWith(t testing.TB, opts Options) *Stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyshift.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("admintest: open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := admin.Bootstrap(ctx, st, time.Now); err != nil {
		t.Fatalf("admintest: %v", err)
	}
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		t.Fatalf("admintest: sealer: %v", err)
	}
	ring, err := signing.New(ctx, st, sealer, signing.Config{RotateEvery: -1, Logger: log})
	if err != nil {
		t.Fatalf("admintest: keyring: %v", err)
	}

	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	az, err := authz.New(authz.Config{Issuer: issuer, Logger: log, FailureBurst: -1}, st, ring)
	if err != nil {
		t.Fatalf("admintest: authz: %v", err)
	}
	api := admin.New(st, tokenAuth{az}, ring, admin.Config{Logger: log})
	op, err := api.CreateClient(ctx, admin.SystemPrincipal(), store.PlatformTenant, admin.CreateClientRequest{
		Name: "operator", Scopes: []string{oauth.ScopeAdmin},
	})
	if err != nil {
		t.Fatalf("admintest: operator client: %v", err)
	}
	if opts.Demo {
		if _, err := demo.Seed(ctx, api, st, time.Now()); err != nil {
			t.Fatalf("admintest: demo data: %v", err)
		}
	}
	if err := az.Start(ctx); err != nil {
		t.Fatalf("admintest: start authz: %v", err)
	}
	mux := http.NewServeMux()
	az.Register(mux)
	api.Register(mux)
	var h http.Handler = mux
	if opts.Wrap != nil {
		h = opts.Wrap(mux)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &Stack{URL: issuer, Store: st, API: api, ClientID: op.ClientID, ClientSecret: op.ClientSecret}
}

// tokenAuth validates bearer tokens with the authorization server, as the
// real server does.
type tokenAuth struct{ az *authz.Server }

func (a tokenAuth) Authenticate(ctx context.Context, bearer string) (admin.Principal, error) {
	ti, err := a.az.Authenticate(ctx, bearer)
	if err != nil {
		return admin.Principal{}, err
	}
	return admin.Principal{Subject: ti.Subject, ClientID: ti.ClientID, Tenant: ti.Tenant, Scopes: ti.Scopes}, nil
}

// SeedAcmeClient adds the scopes core.invoice.read and core.invoice.write
// (with their legacy permissions), tenant acme, and an integration client
// of acme holding core.invoice.read, whose credentials it returns.
func (s *Stack) SeedAcmeClient(t testing.TB) (clientID, secret string) {
	t.Helper()
	ctx := context.Background()
	p := admin.SystemPrincipal()
	for name, perms := range map[string][]string{
		"core.invoice.read": {"invoices:read"}, "core.invoice.write": {"invoices:create", "invoices:update"},
	} {
		if _, err := s.API.PutScope(ctx, p, name, admin.PutScopeRequest{Description: name, Permissions: perms}); err != nil {
			t.Fatalf("admintest: scope %s: %v", name, err)
		}
	}
	if _, err := s.API.CreateTenant(ctx, p, admin.CreateTenantRequest{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatalf("admintest: tenant acme: %v", err)
	}
	c, err := s.API.CreateClient(ctx, p, "acme", admin.CreateClientRequest{
		Name: "ERP", Scopes: []string{"core.invoice.read"}, Contact: store.Contact{Login: "erp"}})
	if err != nil {
		t.Fatalf("admintest: acme client: %v", err)
	}
	return c.ClientID, c.ClientSecret
}
