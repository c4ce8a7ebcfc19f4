package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
	"github.com/keyshift/keyshift/tokensource"
)

// startAgentWith runs an agent with cfg (logger and a one-hour check
// interval filled in, so only an immediate write can update the token file
// during a test) and returns its base URL.
func startAgentWith(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.CheckEvery = time.Hour
	return runAgent(t, cfg)
}

// waitForFile waits until the token file holds something other than not.
func waitForFile(t *testing.T, path, not string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(path); len(b) > 0 && string(b) != not {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token file still holds %.12s… after 10 s", not)
		}
	}
}

// post sends body through the agent as an integration would: the agent
// receives it off the wire, with no way to read it twice. chunked hides its
// length (Transfer-Encoding: chunked).
func post(t *testing.T, url string, body []byte, chunked bool) (int, map[string]string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // no length known to net/http
	}
	req, _ := http.NewRequest(http.MethodPost, url, r)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func randomBody(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// TestAgent_TokenRevoked_PostWithBodyReplayedWithNewToken: after keyshift
// revokes the agent's token, a POST with a body through the agent is
// answered by the API with the body intact — the agent dropped the token,
// minted one and sent the buffered request again — and the token file holds
// the new token at once.
func TestAgent_TokenRevoked_PostWithBodyReplayedWithNewToken(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartIntrospectingResource(t, k, "core.invoice.read")
	c := k.NewClient(t, "")
	tokenFile := filepath.Join(t.TempDir(), "token")
	base := startAgentWith(t, Config{Token: tokensource.Config{Issuer: k.URL, ClientID: c.ID, ClientSecret: c.Secret, Scopes: c.Scopes},
		Upstream: api.URL, TokenFile: tokenFile})
	old := waitForFile(t, tokenFile, "")

	k.Revoke(t, old)
	body, sum := randomBody(t, 300<<10)
	calls := api.Calls.Load()
	status, out := post(t, base+"/api/invoices", body, false)
	if status != http.StatusOK || out["body_sha256"] != sum || out["body_len"] != strconv.Itoa(len(body)) {
		t.Fatalf("POST after revocation = %d, body %s bytes (sha256 match %v); want 200 with the body intact", status, out["body_len"], out["body_sha256"] == sum)
	}
	if got := api.Calls.Load() - calls; got != 2 {
		t.Errorf("API calls = %d, want the 401 and one retry", got)
	}
	if n := k.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d, want 2 (one re-mint)", n)
	}
	fresh := waitForFile(t, tokenFile, old)
	if claims, err := api.Verify(context.Background(), fresh); err != nil || claims.JTI != out["jti"] {
		t.Errorf("token file: %v, jti %q; want the re-minted token %q", err, claims.JTI, out["jti"])
	}
}

// TestAgent_TokenRevoked_BodyTooLargeToReplay_NextRequestSucceeds: a body
// above the replay limit, or of unknown length, cannot be sent again: that
// request gets the 401, but the token is dropped, so the next one succeeds.
func TestAgent_TokenRevoked_BodyTooLargeToReplay_NextRequestSucceeds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		size    int
		chunked bool
	}{
		{"above the limit", 8 << 10, false},
		{"streaming (unknown length)", 1 << 10, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := agenttest.StartKeyshift(t)
			api := agenttest.StartIntrospectingResource(t, k, "core.invoice.read")
			c := k.NewClient(t, "")
			tokenFile := filepath.Join(t.TempDir(), "token")
			base := startAgentWith(t, Config{Token: tokensource.Config{Issuer: k.URL, ClientID: c.ID, ClientSecret: c.Secret, Scopes: c.Scopes},
				Upstream: api.URL, TokenFile: tokenFile, ReplayBodyLimit: 4 << 10})
			old := waitForFile(t, tokenFile, "")
			k.Revoke(t, old)

			body, sum := randomBody(t, tt.size)
			if status, _ := post(t, base+"/api/invoices", body, tt.chunked); status != http.StatusUnauthorized {
				t.Fatalf("first POST after revocation = %d, want the API's 401", status)
			}
			status, out := post(t, base+"/api/invoices", body, tt.chunked)
			if status != http.StatusOK || out["body_sha256"] != sum {
				t.Fatalf("next POST = %d (body intact %v), want 200 with a new token", status, out["body_sha256"] == sum)
			}
			if n := k.TokenRequests(); n != 2 {
				t.Errorf("token requests = %d, want 2", n)
			}
			waitForFile(t, tokenFile, old)
		})
	}
}
