package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/authz"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// keyshift is a whole keyshift in one test: SQLite store, signing keyring,
// the key service (registry, timeline, usage) on a settable clock, the
// OAuth endpoints with key introspection, and the admin API.
type keyshift struct {
	URL  string
	st   store.Store
	ring *signing.Keyring
	az   *authz.Server
	keys *apikey.Service
	api  *admin.API
	now  atomic.Int64 // the key service's clock, unix ns
	// operator is a platform client allowed to introspect any tenant's
	// credentials.
	operatorID, operatorSecret string
}

func (k *keyshift) clock() time.Time { return time.Unix(0, k.now.Load()) }

func startKeyshift(t testing.TB) *keyshift {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k := &keyshift{}
	k.now.Store(time.Now().UnixNano())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyshift.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := admin.Bootstrap(ctx, st, time.Now); err != nil {
		t.Fatal(err)
	}
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if k.ring, err = signing.New(ctx, st, sealer, signing.Config{RotateEvery: -1, Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	if k.keys, err = apikey.NewService(st, apikey.ServiceConfig{Now: k.clock, Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	if err := k.keys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-first: stop the service before the store closes.
	t.Cleanup(func() { cancel(); k.keys.Wait() })
	srv := httptest.NewUnstartedServer(nil)
	k.URL = "http://" + srv.Listener.Addr().String()
	if k.az, err = authz.New(authz.Config{Issuer: k.URL, Logger: quiet(), FailureBurst: -1, Keys: k.keys}, st, k.ring); err != nil {
		t.Fatal(err)
	}
	k.api = admin.New(st, nil, k.ring, admin.Config{Logger: quiet()})
	op, err := k.api.CreateClient(ctx, admin.SystemPrincipal(), store.PlatformTenant, admin.CreateClientRequest{
		Name: "gateway", Scopes: []string{oauth.ScopeAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	k.operatorID, k.operatorSecret = op.ClientID, op.ClientSecret
	if err := k.az.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	k.az.Register(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	k.st = st
	return k
}

// In process, the guard reads keyshift's keyring directly (KeySource): a
// token signed after a rotation verifies at once, and so do older ones.
func TestGateway_InProcessKeySource_TokensAcrossRotation(t *testing.T) {
	t.Parallel()
	k := startKeyshift(t)
	up := newUpstream(t, nil)
	gw := newGateway(t, gateway.Config{Routes: routes(t, ""), Upstream: up.URL,
		Guard: guard.Config{Issuer: k.URL, KeySource: k.ring}})
	mint := func() string {
		cc := clientcredentials.Config{ClientID: k.operatorID, ClientSecret: k.operatorSecret, TokenURL: k.URL + "/oauth2/token"}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	var toks []string
	for range 3 {
		toks = append(toks, mint())
		if err := k.ring.Rotate(context.Background(), store.AuditEvent{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	toks = append(toks, mint())
	for i, tok := range toks {
		if w := do(t, gw, "GET", "/api/stream", "Authorization", "Bearer "+tok); w.Code != 200 {
			t.Errorf("token %d: %d %s", i, w.Code, w.Body)
		}
	}
}
