package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

func TestServeDemo_PrintsWorkingCredentials(t *testing.T) {
	c := startServe(t, "--demo", "--db", filepath.Join(t.TempDir(), "demo.db"))
	var id, secret string
	deadline := time.Now().Add(10 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		if m := demoCurl.FindStringSubmatch(c.output()); m != nil {
			id, secret = m[1], m[2]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatalf("no curl line in demo output:\n%s", c.output())
	}
	if !strings.Contains(c.output(), c.url("/oauth2/token")) {
		t.Errorf("curl lines do not name the token endpoint %s:\n%s", c.url("/oauth2/token"), c.output())
	}
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: c.url("/oauth2/token")}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token with the demo credentials: %v", err)
	}
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("demo token is not an ES256 JWT: %v", err)
	}
	var claims map[string]any
	if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	if claims["tenant"] != "acme" || claims["client_id"] != id {
		t.Errorf("demo token claims %v: want tenant acme and client_id %s", claims, id)
	}
}

// TestServe_SIGKILLDuringAdminWrites_AcknowledgedWritesSurvive kills the
// server while admin writes are in flight and checks that every write it
// acknowledged is in the store afterwards, with its audit event, and that
// the store passes an integrity check and serves again.
func TestServe_SIGKILLDuringAdminWrites_AcknowledgedWritesSurvive(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	opID, opSecret := initStore(t, db)
	c := startServe(t, "--db", db)
	cc := clientcredentials.Config{ClientID: opID, ClientSecret: opSecret, TokenURL: c.url("/oauth2/token"), Scopes: []string{"keyshift:admin"}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("operator token: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		acked []string
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	hc := &http.Client{Timeout: 5 * time.Second}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := fmt.Sprintf("crash-%d", next.Add(1))
				code, _, err := postJSON(ctx, hc, c.url("/admin/v1/tenants"), tok.AccessToken, map[string]string{"id": id, "name": "Crash " + id})
				if err != nil {
					return // the server is gone
				}
				if code == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	c.kill()
	cancel()
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d writes acknowledged before the kill; the test needs writes in flight", len(acked))
	}

	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	if err := st.CheckIntegrity(context.Background()); err != nil {
		t.Fatalf("integrity after SIGKILL: %v", err)
	}
	for _, id := range acked {
		if _, err := st.GetTenant(context.Background(), id); err != nil {
			t.Errorf("acknowledged tenant %s lost: %v", id, err)
		}
		ev, err := st.ListAudit(context.Background(), store.AuditFilter{ObjectID: id, Action: "tenant.create"})
		if err != nil || len(ev) != 1 {
			t.Errorf("acknowledged tenant %s: audit events %v, %v; want exactly one", id, ev, err)
		}
	}
	st.Close()
	startServe(t, "--db", db) // and it serves again
}

var demoKeyLine = regexp.MustCompile(`X-API-Key: (ksk_[0-9A-Za-z]+)`)

// TestServeDemo_WholePathThroughTheGateway follows the demo's printed steps:
// the legacy key works and says it is going away, a token works, a token
// without the scope gets 403, and after the demo's key clock passes
// keys_off_at the key is refused with api_key_sunset.
func TestServeDemo_WholePathThroughTheGateway(t *testing.T) {
	c := startServe(t, "--demo", "--db", filepath.Join(t.TempDir(), "demo.db"))
	var id, secret, key string
	deadline := time.Now().Add(10 * time.Second)
	for key == "" && time.Now().Before(deadline) {
		out := c.output()
		if m := demoCurl.FindStringSubmatch(out); m != nil {
			id, secret = m[1], m[2]
		}
		if m := demoKeyLine.FindStringSubmatch(out); m != nil {
			key = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if key == "" || id == "" {
		t.Fatalf("demo printed no key or client:\n%s", c.output())
	}
	call := func(method, path string, hdr map[string]string, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.url(path), strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := call("GET", "/api/invoices", map[string]string{"X-API-Key": key}, "")
	if resp.StatusCode != 200 || !strings.Contains(body, "INV-") {
		t.Fatalf("demo key on /api/invoices: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Deprecation") == "" || resp.Header.Get("Sunset") == "" || !strings.Contains(resp.Header.Get("Link"), `rel="sunset"`) {
		t.Errorf("key answer lacks deprecation signals: %v", resp.Header)
	}

	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: c.url("/oauth2/token")}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Content-Type": "application/json"}
	if resp, body := call("GET", "/api/invoices", bearer, ""); resp.StatusCode != 200 || resp.Header.Get("Deprecation") != "" {
		t.Errorf("token on /api/invoices: %d %s (Deprecation %q)", resp.StatusCode, body, resp.Header.Get("Deprecation"))
	}
	resp, _ = call("POST", "/api/purchase_orders", bearer, `{"supplier_id":1,"total":"10.00","currency":"EUR"}`)
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("token without core.purchase_order.write: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	if resp, body := call("POST", "/demo/clock", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		"at="+time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)); resp.StatusCode != 200 {
		t.Fatalf("move demo clock: %d %s", resp.StatusCode, body)
	}
	resp, body = call("GET", "/api/invoices", map[string]string{"X-API-Key": key}, "")
	if resp.StatusCode != 401 || !strings.Contains(body, `"error":"api_key_sunset"`) || !strings.Contains(body, "migration_guide_url") {
		t.Errorf("key after keys_off_at: %d %s", resp.StatusCode, body)
	}
	if resp, body := call("GET", "/api/invoices", bearer, ""); resp.StatusCode != 200 {
		t.Errorf("token after the key clock moved: %d %s", resp.StatusCode, body)
	}
}
