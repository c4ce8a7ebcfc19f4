package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

var operatorLines = regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`)

// TestGatewayCommand_StandaloneChecksKeysAndTokensRemotely runs `keyshift
// gateway` as its own process in front of an upstream, asking a separate
// `keyshift serve --demo` about keys (introspection) and tokens (JWKS).
func TestGatewayCommand_StandaloneChecksKeysAndTokensRemotely(t *testing.T) {
	ks := startServe(t, "--demo", "--db", filepath.Join(t.TempDir(), "demo.db"))
	var opID, opSecret, id, secret, key string
	deadline := time.Now().Add(10 * time.Second)
	for key == "" && time.Now().Before(deadline) {
		out := ks.output()
		if m := operatorLines.FindStringSubmatch(out); m != nil {
			opID, opSecret = m[1], m[2]
		}
		if m := demoCurl.FindStringSubmatch(out); m != nil {
			id, secret = m[1], m[2]
		}
		if m := demoKeyLine.FindStringSubmatch(out); m != nil {
			key = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if key == "" || opID == "" {
		t.Fatalf("demo output lacks operator or key:\n%s", ks.output())
	}

	seen := make(chan http.Header, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		_, _ = io.WriteString(w, `{"data":[]}`)
	}))
	defer upstream.Close()
	dir := t.TempDir()
	routes := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(routes, []byte("upstream: "+upstream.URL+"\nroutes:\n  - {method: GET, path: \"/api/invoices\", scopes: [core.invoice.read], permissions: [\"invoices:read\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "op.secret")
	if err := os.WriteFile(secretFile, []byte(opSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gw := keyshiftCmd(t, "gateway", "--issuer", "http://"+ks.addr, "--routes", routes, "--addr", addr,
		"--client-id", opID, "--client-secret-file", secretFile, "--log-level", "warn")
	gw.Stderr = os.Stderr
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Process.Signal(os.Interrupt); _ = gw.Wait() })
	if err := waitReady("http://"+addr+"/healthz", 20*time.Second); err != nil {
		t.Fatal(err)
	}

	get := func(hdr, val string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/invoices", nil)
		if hdr != "" {
			req.Header.Set(hdr, val)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("X-API-Key", key); code != 200 {
		t.Fatalf("demo key through the standalone gateway: %d", code)
	}
	if h := <-seen; h.Get("X-Keyshift-Tenant") != "acme" || h.Get("X-Keyshift-Credential") != "api_key" || h.Get("X-API-Key") != "" {
		t.Errorf("upstream saw identity %q/%q and key header %q", h.Get("X-Keyshift-Tenant"), h.Get("X-Keyshift-Credential"), h.Get("X-API-Key"))
	}
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: ks.url("/oauth2/token")}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if code := get("Authorization", "Bearer "+tok.AccessToken); code != 200 {
		t.Fatalf("token through the standalone gateway: %d", code)
	}
	if h := <-seen; h.Get("X-Keyshift-Client") != id || h.Get("X-Keyshift-Credential") != "token" {
		t.Errorf("upstream saw client %q credential %q", h.Get("X-Keyshift-Client"), h.Get("X-Keyshift-Credential"))
	}
	if code := get("", ""); code != 401 {
		t.Errorf("no credentials: %d, want 401", code)
	}
	if code := get("X-API-Key", "ksk_not-a-real-key-000000000000000000000000000000000"); code != 401 {
		t.Errorf("unknown key: %d, want 401", code)
	}
	select {
	case h := <-seen:
		t.Errorf("a refused request reached the upstream: %v", h)
	default:
	}
}
