package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/demoapi"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/notify"
	"github.com/keyshift/keyshift/internal/store"
)

// testClock is a settable clock shared by every part of a test server.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// e2eServer is a keyshift with the demo API behind its gateway, on a fixed
// database file so it can be restarted.
type e2eServer struct {
	base string
	srv  *Server
	stop func()
}

func startE2E(t *testing.T, dir string, clock *testClock) *e2eServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := OpenStore(ctx, filepath.Join(dir, "ks.db"), logger, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upSrv := &http.Server{Handler: demoapi.New(clock.Now)}
	go func() { _ = upSrv.Serve(up) }()
	routes, err := gateway.ParseRoutes(strings.NewReader(demoapi.RoutesYAML))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := New(ctx, Config{Issuer: base, Logger: logger, Now: clock.Now, SecretFile: filepath.Join(dir, "ks.secret"),
		Routes: routes, Upstream: "http://" + up.Addr().String(), AllowPrivateWebhooks: true}, st)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	e := &e2eServer{base: base, srv: srv}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			_ = upSrv.Close()
			st.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

func (e *e2eServer) do(t *testing.T, method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *e2eServer) token(t *testing.T, id, secret string) string {
	t.Helper()
	// A new client reaches the token endpoint's cache through the change
	// feed; wait for it rather than spend failed authentications.
	for deadline := time.Now().Add(5 * time.Second); !e.srv.Authz.ClientActive(id); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("client %s never reached the token endpoint's cache", id)
		}
	}
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.base + "/oauth2/token"}).Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok.AccessToken
}

// TestE2E_KeySunsetToMigrated walks one tenant through the whole move:
// import its keys, call a route with a key before and after each milestone
// (settable clock), count usage (also across a restart), convert a key,
// call with the converted client's token, disable the keys, and see the
// tenant become migrated.
func TestE2E_KeySunsetToMigrated(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	clock := &testClock{now: t0}
	ctx := context.Background()

	// Store set-up as an operator would do it: init, catalogue, tenant.
	st, err := OpenStore(ctx, filepath.Join(dir, "ks.db"), slog.New(slog.NewTextHandler(io.Discard, nil)), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	op, err := Initialise(ctx, st, "http://e2e", clock.Now)
	if err != nil || op == nil {
		t.Fatalf("initialise: %v", err)
	}
	if err := demo.LoadCatalogue(ctx, admin.New(st, nil, nil, admin.Config{Now: clock.Now}), st, demo.Catalogue()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	e := startE2E(t, dir, clock)
	opTok := e.token(t, op.ClientID, op.ClientSecret)
	asOp := map[string]string{"Authorization": "Bearer " + opTok, "Content-Type": "application/json"}
	mustStatus := func(resp *http.Response, body []byte, want int, what string) {
		t.Helper()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %s, want %d", what, resp.StatusCode, body, want)
		}
	}
	resp, body := e.do(t, "POST", "/admin/v1/tenants", asOp, `{"id":"globex","name":"Globex"}`)
	mustStatus(resp, body, 201, "create tenant")

	day := func(d int) time.Time { return t0.Truncate(24*time.Hour).AddDate(0, 0, d) }
	tl := map[string]any{
		"deprecated_at": day(10), "no_new_keys_at": day(20), "keys_off_at": day(40),
		"migration_guide_url": "https://docs.example/migrate",
		"brownouts":           []map[string]any{{"start": day(30).Add(9 * time.Hour), "end": day(30).Add(12 * time.Hour)}},
	}
	tlJSON, _ := json.Marshal(tl)
	resp, body = e.do(t, "PUT", "/admin/v1/timeline", asOp, string(tlJSON))
	mustStatus(resp, body, 200, "set timeline")

	legacyA, legacyB := "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd", "ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210ZyXw"
	jsonl := `{"key":"` + legacyA + `","name":"ERP","permissions":["invoices:read","suppliers:read"],"contact_login":"erp"}` + "\n" +
		`{"key":"` + legacyB + `","name":"BI export","permissions":["invoices:read"],"contact_login":"bi"}` + "\n"
	imp := map[string]string{"Authorization": "Bearer " + opTok, "Content-Type": "application/x-ndjson"}
	resp, body = e.do(t, "POST", "/admin/v1/tenants/globex/keys/import", imp, jsonl)
	mustStatus(resp, body, 200, "import")
	resp, body = e.do(t, "POST", "/admin/v1/tenants/globex/keys/import", imp, jsonl)
	mustStatus(resp, body, 200, "re-import")
	var keys struct {
		Keys []struct{ ID, Name, Status string }
	}
	resp, body = e.do(t, "GET", "/admin/v1/tenants/globex/keys", asOp, "")
	mustStatus(resp, body, 200, "list keys")
	if err := json.Unmarshal(body, &keys); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("after import and re-import: %s (%v); want exactly 2 keys", body, err)
	}
	keyID := map[string]string{}
	for _, k := range keys.Keys {
		keyID[k.Name] = k.ID
	}

	calls := 0
	callKey := func(at time.Time, key string, want int, wantErr string) *http.Response {
		t.Helper()
		clock.Set(at)
		resp, body := e.do(t, "GET", "/api/invoices", map[string]string{"X-API-Key": key}, "")
		calls++
		if resp.StatusCode != want || (wantErr != "" && !strings.Contains(string(body), `"error":"`+wantErr+`"`)) {
			t.Fatalf("key at %s: %d %s, want %d %s", at, resp.StatusCode, body, want, wantErr)
		}
		return resp
	}
	// Before deprecation: accepted; the dates are announced already.
	r := callKey(t0, legacyA, 200, "")
	if r.Header.Get("Sunset") != day(40).Format(http.TimeFormat) || r.Header.Get("Deprecation") == "" {
		t.Errorf("before deprecation: Sunset %q Deprecation %q", r.Header.Get("Sunset"), r.Header.Get("Deprecation"))
	}
	callKey(day(10), legacyA, 200, "")                              // at deprecated_at
	callKey(day(30).Add(9*time.Hour-time.Second), legacyA, 200, "") // just before the brownout
	callKey(day(30).Add(9*time.Hour), legacyA, 401, "api_key_brownout")
	callKey(day(30).Add(12*time.Hour), legacyA, 200, "") // brownout end is exclusive
	callKey(day(40).Add(-time.Second), legacyA, 200, "")
	callKey(day(40), legacyA, 401, "api_key_sunset")

	// Usage equals the calls made, after a flush and after a restart.
	sumUsage := func(s store.Reader) int64 {
		t.Helper()
		rows, err := s.ListUsage(ctx, store.UsageFilter{KeyID: keyID["ERP"]})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, u := range rows {
			n += u.Accepted
			for _, c := range u.Refused {
				n += c
			}
		}
		return n
	}
	e.stop() // graceful shutdown flushes usage
	st2, err := OpenStore(ctx, filepath.Join(dir, "ks.db"), slog.New(slog.NewTextHandler(io.Discard, nil)), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got := sumUsage(st2); got != int64(calls) {
		t.Fatalf("usage after shutdown = %d, want %d calls", got, calls)
	}
	st2.Close()

	// Restart on the same database, the clock back before the sunset.
	clock.Set(day(39))
	e = startE2E(t, dir, clock)
	opTok = e.token(t, op.ClientID, op.ClientSecret)
	asOp["Authorization"] = "Bearer " + opTok
	callKey(day(39), legacyA, 200, "")
	if err := e.srv.Keys.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sumUsage(e.srv.Store); got != int64(calls) {
		t.Fatalf("usage after restart = %d, want %d calls", got, calls)
	}

	// Convert the ERP key, use the new client's token on the same route.
	resp, body = e.do(t, "POST", "/admin/v1/tenants/globex/keys/"+keyID["ERP"]+"/convert", asOp, `{}`)
	mustStatus(resp, body, 201, "convert")
	var conv struct {
		ClientID, ClientSecret string   `json:"-"`
		ID                     string   `json:"client_id"`
		Secret                 string   `json:"client_secret"`
		Scopes                 []string `json:"scopes"`
	}
	if err := json.Unmarshal(body, &conv); err != nil || conv.ID == "" || conv.Secret == "" {
		t.Fatalf("convert answer %s: %v", body, err)
	}
	if !strings.Contains(strings.Join(conv.Scopes, " "), "core.invoice.read") {
		t.Errorf("converted scopes %v lack core.invoice.read", conv.Scopes)
	}
	tok := e.token(t, conv.ID, conv.Secret)
	resp, body = e.do(t, "GET", "/api/invoices", map[string]string{"Authorization": "Bearer " + tok}, "")
	mustStatus(resp, body, 200, "converted client's token on /api/invoices")
	if resp.Header.Get("Deprecation") != "" {
		t.Errorf("token answer carries Deprecation %q", resp.Header.Get("Deprecation"))
	}

	// Disabling both keys is what tells the platform the tenant has moved.
	var report struct {
		Tenants []struct {
			Tenant, Status string
		}
	}
	status := func() string {
		resp, body := e.do(t, "GET", "/admin/v1/migration", asOp, "")
		mustStatus(resp, body, 200, "migration report")
		if err := json.Unmarshal(body, &report); err != nil {
			t.Fatal(err)
		}
		for _, tr := range report.Tenants {
			if tr.Tenant == "globex" {
				return tr.Status
			}
		}
		return ""
	}
	if s := status(); s != "in_progress" {
		t.Fatalf("status with active keys and a client = %q, want in_progress", s)
	}

	// The tenant's webhook hears of each disabled key, signed.
	type delivery struct {
		sig   string
		body  []byte
		topic string
	}
	got := make(chan delivery, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev struct{ Topic string }
		_ = json.Unmarshal(b, &ev)
		got <- delivery{sig: r.Header.Get(notify.HeaderSignature), body: b, topic: ev.Topic}
	}))
	defer receiver.Close()
	resp, body = e.do(t, "PUT", "/admin/v1/tenants/globex/webhook", asOp, `{"url":"`+receiver.URL+`/hooks"}`)
	mustStatus(resp, body, 200, "set webhook")
	var wh struct{ Secret string }
	if err := json.Unmarshal(body, &wh); err != nil || !strings.HasPrefix(wh.Secret, "whs_") {
		t.Fatalf("webhook answer %s: %v", body, err)
	}
	resp, body = e.do(t, "GET", "/admin/v1/tenants/globex/webhook", asOp, "")
	mustStatus(resp, body, 200, "get webhook")
	if strings.Contains(string(body), wh.Secret) {
		t.Fatal("GET webhook shows the secret again")
	}
	for _, id := range keyID {
		resp, body = e.do(t, "PATCH", "/admin/v1/tenants/globex/keys/"+id, asOp, `{"status":"disabled"}`)
		mustStatus(resp, body, 200, "disable key")
	}
	if s := status(); s != "migrated" {
		t.Fatalf("status after disabling every key = %q, want migrated", s)
	}
	if _, err := e.srv.Notifier.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	for disabled := 0; disabled < len(keyID); { // digests may arrive too
		select {
		case d := <-got:
			if err := notify.Verify(wh.Secret, d.sig, d.body, clock.Now(), notify.DefaultTolerance); err != nil {
				t.Errorf("webhook signature on %s: %v", d.topic, err)
			}
			if d.topic == notify.TopicKeyDisabled {
				disabled++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d key.disabled deliveries reached the tenant's webhook", disabled, len(keyID))
		}
	}
	callKey(day(39), legacyA, 401, "api_key_disabled")
	if !bytes.Contains(body, []byte(`"status":"disabled"`)) {
		t.Errorf("PATCH answer %s does not show the key disabled", body)
	}
}
