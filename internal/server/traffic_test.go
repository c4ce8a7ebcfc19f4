package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Token requests through the server's gateway are counted and written by
// the final flush of a graceful shutdown, as key usage is.
func TestServer_GatewayTokenRequests_FlushedAtShutdown(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{now: time.Now().UTC()}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := OpenStore(ctx, filepath.Join(dir, "ks.db"), logger, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	op, err := Initialise(ctx, st, "http://traffic", clock.Now)
	if err != nil || op == nil {
		t.Fatalf("initialise: %v", err)
	}
	st.Close()

	e := startE2E(t, dir, clock)
	bearer := map[string]string{"Authorization": "Bearer " + e.token(t, op.ClientID, op.ClientSecret)}
	for range 2 {
		if resp, body := e.do(t, "GET", "/api/whoami", bearer, ""); resp.StatusCode != 200 {
			t.Fatalf("whoami through the gateway: %d %s", resp.StatusCode, body)
		}
	}
	if resp, _ := e.do(t, "GET", "/api/whoami", nil, ""); resp.StatusCode != 401 {
		t.Fatalf("whoami without a token: %d, want 401", resp.StatusCode)
	}
	e.stop()

	st, err = OpenStore(ctx, filepath.Join(dir, "ks.db"), logger, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.ListTokenUsage(ctx, store.TokenUsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Tenant != store.PlatformTenant || got[0].ClientID != op.ClientID ||
		got[0].Requests != 2 || !got[0].Day.Equal(clock.Now().Truncate(24*time.Hour)) {
		t.Fatalf("token usage after shutdown = %+v, want 2 requests of the operator client today", got)
	}
}
