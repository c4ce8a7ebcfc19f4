package tokensource

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// onlyOnce is a request body that cannot be replayed (no GetBody).
type onlyOnce struct{ io.Reader }

func call(t *testing.T, hc *http.Client, req *http.Request) (int, map[string]string) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestTransport_401_DropsTokenRemintsOnceRetriesOnce(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	clock := newClock()
	s, _ := newKeyshiftSource(t, k, clock, nil)
	hc := s.NewClient(nil)

	get := func() *http.Request { r, _ := http.NewRequest(http.MethodGet, api.URL+"/api/invoices", nil); return r }
	status, out := call(t, hc, get())
	if status != 200 || k.TokenRequests() != 1 {
		t.Fatalf("first call = %d, token requests %d", status, k.TokenRequests())
	}

	// The resource stops accepting the token (revoked, client changed...).
	api.Reject(out["jti"])
	calls := api.Calls.Load()
	status, out2 := call(t, hc, get())
	if status != 200 || out2["jti"] == out["jti"] {
		t.Fatalf("after a 401: status %d, same token %v; want a retry with a new token", status, out2["jti"] == out["jti"])
	}
	if got := k.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want exactly one re-mint", got)
	}
	if got := api.Calls.Load() - calls; got != 2 {
		t.Errorf("resource calls = %d, want the 401 and one retry", got)
	}

	// A request whose body cannot be replayed is not retried: the 401 comes
	// back and no token is minted.
	api.Reject(out2["jti"])
	clock.Advance(10 * time.Second)
	calls = api.Calls.Load()
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/api/invoices", onlyOnce{strings.NewReader(`{"n":1}`)})
	if status, _ := call(t, hc, req); status != http.StatusUnauthorized {
		t.Errorf("non-replayable request: status %d, want the resource's 401", status)
	}
	if k.TokenRequests() != 2 || api.Calls.Load()-calls != 1 {
		t.Errorf("non-replayable request: token requests %d, resource calls %d; want 2 and 1", k.TokenRequests(), api.Calls.Load()-calls)
	}

	// A replayable body is sent again, whole, with the new token.
	req, _ = http.NewRequest(http.MethodPost, api.URL+"/api/invoices", bytes.NewReader([]byte(`{"n":2}`)))
	status, out3 := call(t, hc, req)
	if status != 200 || out3["body"] != `{"n":2}` || k.TokenRequests() != 3 {
		t.Errorf("replayable POST: status %d, body %q, token requests %d", status, out3["body"], k.TokenRequests())
	}
}

func TestTransport_Concurrent401s_OneRemint(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	clock := newClock()
	s, _ := newKeyshiftSource(t, k, clock, nil)
	hc := s.NewClient(nil)
	req := func() *http.Request { r, _ := http.NewRequest(http.MethodGet, api.URL+"/api/x", nil); return r }
	_, out := call(t, hc, req())
	api.Reject(out["jti"])
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if status, _ := call(t, hc, req()); status != 200 {
				t.Errorf("status %d", status)
			}
		})
	}
	wg.Wait()
	if n := k.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d, want 2 (one re-mint for 30 requests that saw the 401)", n)
	}
}

func TestTransport_ResourceRefusesEveryToken_NoStorm(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.supplier.write") // a scope the client lacks
	s, _ := newKeyshiftSource(t, k, newClock(), nil)
	hc := s.NewClient(nil)
	for range 20 {
		r, _ := http.NewRequest(http.MethodGet, api.URL+"/api/x", nil)
		if status, _ := call(t, hc, r); status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
	}
	if n := k.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d for 20 refused calls within MinRemintInterval, want 2", n)
	}
}

// TestTransport_401_BodyNotReplayable_TokenDroppedForNextRequest: a library
// user's request whose body cannot be sent again gets the 401, but the
// refused token is dropped, so the next request carries a new one at once
// instead of a 401 of its own.
func TestTransport_401_BodyNotReplayable_TokenDroppedForNextRequest(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	clock := newClock()
	s, _ := newKeyshiftSource(t, k, clock, nil)
	hc := s.NewClient(nil)
	r, _ := http.NewRequest(http.MethodGet, api.URL+"/api/invoices", nil)
	_, out := call(t, hc, r)
	api.Reject(out["jti"])

	req, _ := http.NewRequest(http.MethodPost, api.URL+"/api/invoices", onlyOnce{strings.NewReader(`{"n":1}`)})
	if status, _ := call(t, hc, req); status != http.StatusUnauthorized {
		t.Fatalf("non-replayable POST: status %d, want the resource's 401", status)
	}
	calls := api.Calls.Load()
	req, _ = http.NewRequest(http.MethodPost, api.URL+"/api/invoices", onlyOnce{strings.NewReader(`{"n":2}`)})
	status, out2 := call(t, hc, req)
	if status != http.StatusOK || out2["body"] != `{"n":2}` || out2["jti"] == out["jti"] {
		t.Fatalf("next POST: status %d body %q; want 200 with a new token", status, out2["body"])
	}
	if got := api.Calls.Load() - calls; got != 1 || k.TokenRequests() != 2 {
		t.Errorf("next POST: %d resource calls, %d token requests; want 1 and 2", got, k.TokenRequests())
	}
}

// TestTransport_ReplayBodyLimit_BuffersKnownLengthBody: with a replay limit
// a body without GetBody but of known length is buffered and sent again,
// whole, after the 401.
func TestTransport_ReplayBodyLimit_BuffersKnownLengthBody(t *testing.T) {
	t.Parallel()
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	s, _ := newKeyshiftSource(t, k, newClock(), nil)
	hc := &http.Client{Transport: &Transport{Source: s, ReplayBodyLimit: 1 << 10}}
	r, _ := http.NewRequest(http.MethodGet, api.URL+"/api/invoices", nil)
	_, out := call(t, hc, r)
	api.Reject(out["jti"])

	body := `{"invoice":"INV-1"}`
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/api/invoices", onlyOnce{strings.NewReader(body)})
	req.ContentLength = int64(len(body))
	status, out2 := call(t, hc, req)
	if status != http.StatusOK || out2["body"] != body || out2["jti"] == out["jti"] || k.TokenRequests() != 2 {
		t.Fatalf("POST: status %d body %q token requests %d; want 200, the body, one re-mint", status, out2["body"], k.TokenRequests())
	}
}
