package agent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
	"github.com/keyshift/keyshift/tokensource"
)

// startAgent runs an agent for client c of k in front of api.
func startAgent(t *testing.T, k *agenttest.Keyshift, c agenttest.Client, upstream, tokenFile string) string {
	t.Helper()
	return runAgent(t, Config{
		Token:    tokensource.Config{Issuer: k.URL, ClientID: c.ID, ClientSecret: c.Secret, Scopes: c.Scopes},
		Upstream: upstream, TokenFile: tokenFile, Logger: slog.New(slog.DiscardHandler),
	})
}

// runAgent runs an agent with cfg on a loopback port until the test ends
// and returns its base URL.
func runAgent(t *testing.T, cfg Config) string {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The integration below knows only a base URL: no key, no token, no OAuth.
func TestAgent_IntegrationWithOnlyABaseURL_ReachesGuardedAPI(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	c := k.NewClient(t, "")
	tokenFile := filepath.Join(t.TempDir(), "run", "token")
	base := startAgent(t, k, c, api.URL, tokenFile)

	// Without the agent the API refuses the integration's legacy key.
	if status, _ := get(t, api.URL+"/api/invoices", http.Header{"X-Api-Key": {"ksk_legacy"}}); status != http.StatusUnauthorized {
		t.Fatalf("direct call with a key = %d, want 401", status)
	}
	// Through the agent the same call, key and all, succeeds.
	status, body := get(t, base+"/api/invoices?page=2", http.Header{"X-Api-Key": {"ksk_legacy"}})
	if status != http.StatusOK {
		t.Fatalf("through the agent = %d %s", status, body)
	}
	var out map[string]string
	_ = json.Unmarshal([]byte(body), &out)
	if out["client_id"] != c.ID || out["tenant"] != "acme" || out["path"] != "/api/invoices" {
		t.Errorf("API saw %v", out)
	}
	if h := api.LastHeader(); h.Get("X-Api-Key") != "" || !strings.HasPrefix(h.Get("Authorization"), "Bearer ") {
		t.Errorf("API got key %q and authorization %q; want no key and a bearer token", h.Get("X-Api-Key"), h.Get("Authorization")[:7])
	}
	if n := k.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}

	// The token file holds the same, valid token, 0600. The agent writes it
	// right after it starts listening, so it may come a moment after the
	// first proxied request.
	var b []byte
	for deadline := time.Now().Add(10 * time.Second); len(b) == 0; time.Sleep(5 * time.Millisecond) {
		b, _ = os.ReadFile(tokenFile)
		if time.Now().After(deadline) {
			t.Fatal("no token file after 10 s")
		}
	}
	if _, err := api.Verify(context.Background(), string(b)); err != nil {
		t.Errorf("token file: %v", err)
	}
	if fi, _ := os.Stat(tokenFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", fi.Mode().Perm())
	}

	status, body = get(t, base+HealthPath, nil)
	if status != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("health = %d %s", status, body)
	}
	if status, body = get(t, base+MetricsPath, nil); status != 200 {
		t.Errorf("metrics = %d", status)
	}
	for _, want := range []string{`keyshift_agent_token_events_total{event="minted"} 1`, `keyshift_agent_proxy_responses_total{class="2xx"} 1`, `keyshift_agent_token_file_writes_total 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, string(b)) {
		t.Error("metrics contain the token")
	}
}

func TestAgent_WrongSecret_HealthSaysWhyAndProxyFails(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "")
	c := k.NewClient(t, "")
	c.Secret = "kss_not_the_secret"
	base := startAgent(t, k, c, api.URL, "")
	status, body := get(t, base+HealthPath, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "rotated") || strings.Contains(body, c.Secret) {
		t.Errorf("health = %d %s", status, body)
	}
	if status, _ := get(t, base+"/api/x", nil); status != http.StatusBadGateway {
		t.Errorf("proxy = %d, want 502", status)
	}
	if api.Calls.Load() != 0 {
		t.Error("a request reached the API without a token")
	}
}

func TestNew_RejectsUselessConfig(t *testing.T) {
	t.Parallel()
	tc := tokensource.Config{TokenURL: "http://127.0.0.1:1/token", ClientID: "c", ClientSecret: "s"}
	if _, err := New(Config{Token: tc}); err == nil {
		t.Error("no upstream and no token file accepted")
	}
	if _, err := New(Config{Token: tc, Upstream: "127.0.0.1:9000"}); err == nil {
		t.Error("upstream without scheme accepted")
	}
}

// clock is a settable clock for the token source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestAgent_TokenFileFollowsRefreshAt20h(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	clk := &clock{t: time.Now()}
	tokenFile := filepath.Join(t.TempDir(), "token")
	a, err := New(Config{Token: tokensource.Config{TokenURL: k.TokenURL, ClientID: c.ID, ClientSecret: c.Secret, Now: clk.Now},
		TokenFile: tokenFile, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.Refresh(ctx)
	first, _ := os.ReadFile(tokenFile)
	clk.Advance(19 * time.Hour)
	a.Refresh(ctx)
	if same, _ := os.ReadFile(tokenFile); string(same) != string(first) || k.TokenRequests() != 1 {
		t.Fatalf("at 19 h: token file changed or %d requests", k.TokenRequests())
	}
	clk.Advance(90 * time.Minute) // 20 h 30 min: past the jittered refresh point
	a.Refresh(ctx)                // starts the background refresh, serves the old token
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.Refresh(ctx)
		if b, _ := os.ReadFile(tokenFile); len(b) > 0 && string(b) != string(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token file was not updated after the refresh point")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := k.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
}
