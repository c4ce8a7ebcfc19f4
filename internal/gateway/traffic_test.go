package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin/adminclient"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/traffic"
)

// Every request the gateway forwards with a token is counted for the
// token's tenant and client, and after a flush it is in the store and in
// the admin API's traffic report; refused and rate-limited ones are not.
func TestGateway_TokenRequests_CountedAfterFlush(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	counter, err := traffic.New(is.Store, traffic.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	// A fixed clock: no refill of the rate limit, one day for the counts.
	now := time.Now()
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Upstream: up.URL, TokenUsage: counter,
		Routes: routes(t, "rate_limit: {per_second: 0.001, burst: 3}\n"), Now: func() time.Time { return now }})
	tok := is.token(t)
	bearer := []string{"Authorization", "Bearer " + tok}
	requests := []struct {
		method, path string
		header       []string
		status       int
	}{
		{"GET", "/api/invoices/1", bearer, 200},
		{"POST", "/api/invoices", bearer, 403}, // scope missing: the guard refuses
		{"GET", "/api/invoices/2", bearer, 200},
		{"GET", "/api/invoices/3", nil, 401},
		{"GET", "/api/invoices/4", []string{"Authorization", "Bearer not-a-token"}, 401},
		{"GET", "/api/stream", bearer, 200},
		{"GET", "/api/invoices/5", bearer, 429}, // the burst of 3 is spent
	}
	for _, r := range requests {
		if w := do(t, gw, r.method, r.path, r.header...); w.Code != r.status {
			t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, w.Code, w.Body, r.status)
		}
	}
	if got := up.hits.Load(); got != 3 {
		t.Fatalf("upstream saw %d requests, want 3", got)
	}

	ctx := context.Background()
	if err := counter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := is.Store.ListTokenUsage(ctx, store.TokenUsageFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	want := store.TokenUsageDay{Tenant: "acme", ClientID: is.clientID, Day: now.UTC().Truncate(24 * time.Hour), Requests: 3}
	if len(got) != 1 || got[0].Tenant != want.Tenant || got[0].ClientID != want.ClientID ||
		!got[0].Day.Equal(want.Day) || got[0].Requests != want.Requests {
		t.Fatalf("stored token usage %+v, want [%+v]", got, want)
	}

	// The same counts through the admin API, with a real operator token.
	c := adminclient.New(is.URL, is.ClientID, is.ClientSecret, nil, adminclient.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	rep, err := c.Traffic(ctx, "acme", 2) // two days, in case the test straddles midnight
	if err != nil {
		t.Fatal(err)
	}
	var tokens, keys int64
	for _, d := range rep.Days {
		tokens, keys = tokens+d.TokenRequests, keys+d.KeyRequests
	}
	if rep.Tenant != "acme" || len(rep.Days) != 2 || tokens != 3 || keys != 0 {
		t.Fatalf("admin traffic report %+v, want acme with 3 token requests over 2 days", rep)
	}
}

// A gateway without a recorder forwards token requests as before.
func TestGateway_NoTokenRecorder_StillForwards(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, ""), Upstream: up.URL})
	if w := do(t, gw, "GET", "/api/invoices/1", "Authorization", "Bearer "+is.token(t)); w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}
