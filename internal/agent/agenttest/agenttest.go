// Package agenttest runs what tests of the integration side need: a real
// keyshift (SQLite store, signing keys, token endpoint, admin API) whose token
// endpoint can be counted and switched off, a resource API that accepts only
// keyshift's tokens (verified against its JWKS), and npm tools installed on
// demand into the user's cache directory.
package agenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Keyshift is a running keyshift whose token endpoint is instrumented.
type Keyshift struct {
	URL      string // issuer
	TokenURL string
	API      *admin.API
	Store    store.Store
	// Operator credentials: a platform client, which may introspect and
	// revoke any token.
	OperatorID, OperatorSecret string

	tokenRequests atomic.Int64
	down          atomic.Bool
	logins        atomic.Int64
}

// Demo scopes granted to clients made by NewClient when none are given.
var DefaultScopes = []string{"core.common.read", "core.invoice.read"}

// StartKeyshift starts keyshift on a loopback listener for the rest of the
// test, with the demo tenant "acme" and the procurement scope catalogue.
func StartKeyshift(t testing.TB) *Keyshift {
	t.Helper()
	k := &Keyshift{}
	stack := admintest.NewWith(t, admintest.Options{Demo: true, Wrap: k.instrument})
	k.URL, k.TokenURL, k.API, k.Store = stack.URL, stack.URL+oauth.PathToken, stack.API, stack.Store
	k.OperatorID, k.OperatorSecret = stack.ClientID, stack.ClientSecret
	return k
}

// Revoke revokes an access token at keyshift's revocation endpoint
// (RFC 7009), as an operator would for a leaked token.
func (k *Keyshift) Revoke(t testing.TB, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, k.URL+oauth.PathRevoke, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(k.OperatorID), url.QueryEscape(k.OperatorSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("agenttest: revoke: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agenttest: revoke: HTTP %d", resp.StatusCode)
	}
}

// active asks keyshift's introspection endpoint (RFC 7662) whether token is
// active.
func (k *Keyshift) active(ctx context.Context, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.URL+oauth.PathIntrospect, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(k.OperatorID), url.QueryEscape(k.OperatorSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("introspection: HTTP %d: %v", resp.StatusCode, err)
	}
	return out.Active, nil
}

// instrument counts token requests and, while the endpoint is down, drops
// their connections without an answer, as a dead server or network would.
func (k *Keyshift) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oauth.PathToken && r.Header.Get(probeHeader) == "" {
			k.tokenRequests.Add(1)
			if k.down.Load() {
				if hj, ok := w.(http.Hijacker); ok {
					if conn, _, err := hj.Hijack(); err == nil {
						conn.Close()
						return
					}
				}
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TokenRequests is how many requests reached /oauth2/token so far.
func (k *Keyshift) TokenRequests() int64 { return k.tokenRequests.Load() }

// SetDown switches the token endpoint off (connections dropped) or on.
func (k *Keyshift) SetDown(down bool) { k.down.Store(down) }

// Client is an OAuth client created in keyshift.
type Client struct {
	ID, Secret string
	Scopes     []string
}

// NewClient creates a client_credentials client of tenant acme with the
// given scopes (DefaultScopes when none) and auth method (basic when "").
func (k *Keyshift) NewClient(t testing.TB, authMethod string, scopes ...string) Client {
	t.Helper()
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	n := k.logins.Add(1)
	res, err := k.API.CreateClient(context.Background(), admin.SystemPrincipal(), demo.Tenant, admin.CreateClientRequest{
		Name: fmt.Sprintf("integration %d", n), Scopes: scopes, AuthMethod: authMethod,
		Contact: store.Contact{Login: fmt.Sprintf("integration-%d", n), Email: fmt.Sprintf("it%d@acme.example", n)},
	})
	if err != nil {
		t.Fatalf("agenttest: create client: %v", err)
	}
	c := Client{ID: res.ClientID, Secret: res.ClientSecret, Scopes: scopes}
	if authMethod == "client_secret_post" {
		waitFor(t, func() bool { return k.clientKnown(c) }, "the token endpoint to know the new client")
	} else {
		waitFor(t, func() bool { return k.secretAccepted(c.ID, c.Secret) }, "the token endpoint to know the new client")
	}
	return c
}

// RotateSecret gives the client a new secret and revokes the old one at once.
func (k *Keyshift) RotateSecret(t testing.TB, clientID string) string {
	t.Helper()
	res, err := k.API.RotateClientSecret(context.Background(), admin.SystemPrincipal(), demo.Tenant, clientID,
		admin.RotateSecretRequest{RevokePrevious: true})
	if err != nil {
		t.Fatalf("agenttest: rotate secret: %v", err)
	}
	waitFor(t, func() bool { return k.secretAccepted(clientID, res.ClientSecret) }, "the old secret to stop working")
	return res.ClientSecret
}

// DisableClient disables the client through the admin service; the token
// endpoint refuses it from then on (the write is acknowledged once this
// instance's caches have applied it).
func (k *Keyshift) DisableClient(t testing.TB, c Client) {
	t.Helper()
	st := store.StatusDisabled
	if _, err := k.API.UpdateClient(context.Background(), admin.SystemPrincipal(), demo.Tenant, c.ID, admin.UpdateClientRequest{Status: &st}); err != nil {
		t.Fatalf("agenttest: disable client: %v", err)
	}
	if k.secretAccepted(c.ID, c.Secret) {
		t.Fatal("agenttest: the token endpoint still accepts the disabled client")
	}
}

// secretAccepted reports whether the token endpoint now accepts newSecret,
// i.e. the server's client cache has seen the rotation.
func (k *Keyshift) secretAccepted(clientID, newSecret string) bool {
	req, _ := http.NewRequest(http.MethodPost, k.TokenURL, bytes.NewBufferString("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, newSecret)
	req.Header.Set(probeHeader, "1") // not counted: not the code under test
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("agenttest: timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clientKnown probes a client_secret_post client.
func (k *Keyshift) clientKnown(c Client) bool {
	form := "grant_type=client_credentials&client_id=" + c.ID + "&client_secret=" + c.Secret
	req, _ := http.NewRequest(http.MethodPost, k.TokenURL, bytes.NewBufferString(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(probeHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// probeHeader marks the helper's own token requests, which are not counted.
const probeHeader = "X-Agenttest-Probe"

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("agenttest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Once caches a value computed once per test binary, e.g. an npm install.
type Once[T any] struct {
	once sync.Once
	v    T
	err  error
}

// Do computes the value on first use.
func (o *Once[T]) Do(f func() (T, error)) (T, error) {
	o.once.Do(func() { o.v, o.err = f() })
	return o.v, o.err
}
