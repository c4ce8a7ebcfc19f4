package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/authz/authztest"
)

// setUpRelyingParties creates, through the admin API as the operator, the
// tenant acme, its scope core.invoice.read, the user alice and the four
// clients the script uses; it returns the script's configuration and
// alice's id.
func setUpRelyingParties(t *testing.T, base string, op *OperatorCredentials) (rpConfig, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := (&clientcredentials.Config{ClientID: op.ClientID, ClientSecret: op.ClientSecret, TokenURL: base + "/oauth2/token"}).Token(ctx)
	if err != nil {
		t.Fatalf("operator token: %v", err)
	}
	call := func(method, path string, body any, want int, out any) {
		t.Helper()
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, got, want)
		}
		if out != nil {
			if err := json.Unmarshal(got, out); err != nil {
				t.Fatalf("%s %s: answer %s: %v", method, path, got, err)
			}
		}
	}
	call("POST", "/admin/v1/tenants", map[string]string{"id": "acme", "name": "Acme Corp"}, http.StatusCreated, nil)
	call("PUT", "/admin/v1/scopes/core.invoice.read", map[string]any{"description": "Read invoices", "permissions": []string{"invoices:read"}}, http.StatusOK, nil)
	var user struct{ ID string }
	call("POST", "/admin/v1/tenants/acme/users", map[string]any{
		"login": "alice", "email": "alice@acme.example", "name": "Alice Example", "password": rpPassword,
	}, http.StatusCreated, &user)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv := jose.JSONWebKey{Key: key, KeyID: "rp-es256", Algorithm: "ES256", Use: "sig"}
	pub, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	privJSON, err := json.Marshal(priv)
	if err != nil {
		t.Fatal(err)
	}

	create := func(login string, fields map[string]any) (id, secret string) {
		t.Helper()
		fields["name"], fields["contact"] = login, map[string]string{"login": login}
		var c struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		call("POST", "/admin/v1/tenants/acme/clients", fields, http.StatusCreated, &c)
		return c.ClientID, c.ClientSecret
	}
	cfg := rpConfig{Issuer: base}
	cfg.Web = rpClient{Scope: rpWebScope, RedirectURI: rpRedirect}
	cfg.Web.ID, cfg.Web.Secret = create("invoice-web", map[string]any{
		"grant_types": []string{"authorization_code", "refresh_token"}, "scopes": strings.Fields(rpWebScope),
		"redirect_uris": []string{rpRedirect}, "token_endpoint_auth_method": "client_secret_basic",
	})
	cfg.Device = rpClient{Scope: rpDevScope}
	cfg.Device.ID, cfg.Device.Secret = create("invoice-cli", map[string]any{
		"grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		"scopes":      strings.Fields(rpDevScope), "token_endpoint_auth_method": "client_secret_post",
	})
	cfg.Service = rpClient{Scope: "core.invoice.read"}
	cfg.Service.ID, cfg.Service.Secret = create("invoice-sync", map[string]any{
		"grant_types": []string{"client_credentials"}, "scopes": []string{"core.invoice.read"},
		"access_token_ttl_seconds": 3600,
	})
	cfg.Signer = rpClient{Scope: "core.invoice.read", JWK: privJSON}
	cfg.Signer.ID, _ = create("invoice-signer", map[string]any{
		"grant_types": []string{"client_credentials"}, "scopes": []string{"core.invoice.read"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": json.RawMessage(pub),
	})
	return cfg, user.ID
}

// rpProcess is the running script: its events, its stdin, its stderr.
type rpProcess struct {
	t      *testing.T
	stdin  io.WriteCloser
	lines  chan string
	exited chan error
	stderr *lockedBuffer
}

// rpStepTimeout bounds the wait for one event; the device step polls at
// keyshift's interval (5 s), the rest take milliseconds.
const rpStepTimeout = 90 * time.Second

func startRP(t *testing.T, node, modules string, cfg rpConfig) *rpProcess {
	t.Helper()
	conf, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	cmd := exec.CommandContext(ctx, node, "testdata/openid-client/rp.mjs", modules)
	cmd.Env = append(cmd.Environ(), "KS_RP_CONFIG="+string(conf))
	cmd.WaitDelay = 5 * time.Second
	p := &rpProcess{t: t, lines: make(chan string, 16), exited: make(chan error, 1), stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.exited <- cmd.Wait() // after the last read, as os/exec requires
	}()
	t.Cleanup(func() {
		cancel()
		go func() { // events a failed test left unread must not block the reader
			for range p.lines {
			}
		}()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("node did not exit after being killed")
		}
	})
	return p
}

// next waits for the script's next event, which must be want, and decodes
// its data into out (nil: ignore it).
func (p *rpProcess) next(want string, out any) {
	p.t.Helper()
	var line string
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("openid-client script ended before %q\nstderr:\n%s", want, p.stderr)
		}
		line = l
	case <-time.After(rpStepTimeout):
		p.t.Fatalf("openid-client script: no %q within %v\nstderr:\n%s", want, rpStepTimeout, p.stderr)
	}
	var ev struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		p.t.Fatalf("openid-client script printed %q (%v), want a JSON event\nstderr:\n%s", line, err, p.stderr)
	}
	if ev.Event == "error" {
		p.t.Fatalf("openid-client failed, waiting for %q: %s\nstderr:\n%s", want, ev.Data, p.stderr)
	}
	if ev.Event != want {
		p.t.Fatalf("openid-client script: event %q (%s), want %q", ev.Event, ev.Data, want)
	}
	if out != nil {
		if err := json.Unmarshal(ev.Data, out); err != nil {
			p.t.Fatalf("event %s: data %s: %v", want, ev.Data, err)
		}
	}
}

// send writes one JSON line to the script's stdin.
func (p *rpProcess) send(v any) {
	p.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("write to the openid-client script: %v\nstderr:\n%s", err, p.stderr)
	}
}

// wait checks that the script exits successfully after its last event.
func (p *rpProcess) wait() {
	p.t.Helper()
	_ = p.stdin.Close()
	for l := range p.lines {
		p.t.Errorf("openid-client script printed after done: %s", l)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			p.t.Fatalf("openid-client script: %v\nstderr:\n%s", err, p.stderr)
		}
		p.exited <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		p.t.Fatalf("openid-client script did not exit after done\nstderr:\n%s", p.stderr)
	}
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newRPBrowser is a person at a browser (authztest.Browser) whose
// requests each get a deadline.
func newRPBrowser(t *testing.T, issuer string) *authztest.Browser {
	t.Helper()
	b := authztest.NewBrowser(t, issuer)
	b.Client.Timeout = 30 * time.Second
	return b
}

// rpSignIn fills keyshift's login page, which p must be; tenant "" keeps
// the page's own.
func rpSignIn(t *testing.T, b *authztest.Browser, p authztest.Page, tenant, login, pw string) authztest.Page {
	t.Helper()
	if !p.IsLoginPage() {
		t.Fatalf("want the login page, got %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	return b.SignIn(p, tenant, login, pw)
}

// approveDevice is the person's part of the device flow: open the
// verification URI with the code, sign in, confirm the code, approve.
func approveDevice(t *testing.T, base, verificationURI, userCode string) {
	t.Helper()
	b := newRPBrowser(t, base)
	entry := rpSignIn(t, b, b.Get(verificationURI), "acme", "alice", rpPassword)
	if entry.URL.Path != "/oauth2/device" || !strings.Contains(entry.Body, `value="`+userCode+`"`) {
		t.Fatalf("the device page after sign-in does not carry the code %s: %s (status %d)\n%s", userCode, entry.URL, entry.Status, entry.Body)
	}
	confirm := b.Submit(entry, nil)
	if done := b.Approve(confirm); done.Status != http.StatusOK || !strings.Contains(done.Body, "Device connected") {
		t.Fatalf("after approving the device: %d\n%s", done.Status, done.Body)
	}
}
