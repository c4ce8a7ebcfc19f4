package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// TestFreeze_PostgresFrozen_WritesAnswer503AndAreNotAppliedLater runs
// keyshift on PostgreSQL through a relay that is frozen (the database is
// reachable but answers nothing). An admin write and a revocation sent
// during the freeze are answered 503 with Retry-After within the store
// timeout, not held open; tokens for cached clients are still issued;
// /readyz says not ready. After the thaw the refused writes are not in
// the database (nothing applies them late), the same writes succeed, and
// changes made by another instance reach this one again.
func TestFreeze_PostgresFrozen_WritesAnswer503AndAreNotAppliedLater(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	const storeTimeout = 2 * time.Second
	// Generous for a loaded machine, far below the freeze's length.
	const answerWithin = storeTimeout + 8*time.Second
	cl := newPGCluster(t)
	u, err := url.Parse(cl.db)
	if err != nil {
		t.Fatal(err)
	}
	relay := pgtest.NewRelay(t, u.Host)
	u.Host = relay.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	// Through the environment (the flag's twin), which serve inherits.
	t.Setenv("KEYSHIFT_STORE_TIMEOUT", storeTimeout.String())
	inst := startServe(t, cl.serveArgs(u.String())...)
	op := mustToken(t, inst.url(""), cl.opID, cl.opSecret, "keyshift:admin")
	mustCall(t, http.MethodPost, inst.url("/admin/v1/tenants"), op, map[string]string{"id": "acme", "name": "Acme"}, http.StatusCreated, nil)
	mustCall(t, http.MethodPut, inst.url("/admin/v1/scopes/core.invoice.read"), op,
		map[string]any{"description": "Read invoices", "permissions": []string{"invoices:read"}}, http.StatusOK, nil)
	var spare struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	mustCall(t, http.MethodPost, inst.url("/admin/v1/tenants/acme/clients"), op, map[string]any{
		"name": "spare", "grant_types": []string{"client_credentials"}, "scopes": []string{"core.invoice.read"},
		"contact": map[string]string{"login": "spare", "email": "spare@acme.test"},
	}, http.StatusCreated, &spare)
	// The token path answers from the client cache, which follows the
	// change feed: freeze once the new client is in it.
	eventually(t, 10*time.Second, "new client cached", func() bool {
		code, _, _ := tokenResp(context.Background(), inst.url(""), spare.ClientID, spare.ClientSecret, "")
		return code == http.StatusOK
	})
	victim := mustToken(t, inst.url(""), cl.opID, cl.opSecret, "keyshift:admin")
	slow := &http.Client{Timeout: 3 * answerWithin}

	relay.Freeze()
	frozenAt := time.Now()

	// Both writes are sent now and waited for in the background with a
	// patient client: one that is not answered within the bound is still in
	// flight when the relay thaws, which is how a held write got applied
	// late.
	write := sendAsync(slow, func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, inst.url("/admin/v1/tenants"), strings.NewReader(`{"id":"frozen","name":"Frozen"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+op)
		return req
	}())
	revoke := sendAsync(slow, func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, inst.url("/oauth2/revoke"), strings.NewReader(url.Values{"token": {victim}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cl.opID, cl.opSecret)
		return req
	}())

	t.Run("AdminWriteAnswers503ProblemWithRetryAfter", func(t *testing.T) {
		a, ok := write.within(answerWithin)
		if !ok {
			t.Fatalf("admin write during the freeze: no answer within %s", answerWithin)
		}
		if a.err != nil {
			t.Fatalf("admin write during the freeze: %v after %s", a.err, a.took)
		}
		var p struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(a.body, &p)
		if a.code != http.StatusServiceUnavailable || p.Type != "urn:keyshift:problem:unavailable" ||
			a.header.Get("Retry-After") == "" || a.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("admin write during the freeze: %d type %q Retry-After %q Content-Type %q",
				a.code, p.Type, a.header.Get("Retry-After"), a.header.Get("Content-Type"))
		}
		t.Logf("admin write answered %d after %s", a.code, a.took)
	})

	t.Run("RevocationAnswersTemporarilyUnavailable", func(t *testing.T) {
		a, ok := revoke.within(answerWithin)
		if !ok {
			t.Fatalf("revocation during the freeze: no answer within %s", answerWithin)
		}
		if a.err != nil {
			t.Fatalf("revocation during the freeze: %v after %s", a.err, a.took)
		}
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(a.body, &e)
		if a.code != http.StatusServiceUnavailable || e.Error != "temporarily_unavailable" || a.header.Get("Retry-After") == "" {
			t.Errorf("revocation during the freeze: %d error %q Retry-After %q", a.code, e.Error, a.header.Get("Retry-After"))
		}
		t.Logf("revocation answered %d after %s", a.code, a.took)
	})

	t.Run("TokensForCachedClientsStillIssued", func(t *testing.T) {
		for range 5 {
			mustToken(t, inst.url(""), cl.opID, cl.opSecret, "keyshift:admin")
			mustToken(t, inst.url(""), spare.ClientID, spare.ClientSecret, "")
		}
	})

	t.Run("ReadyzAnswersNotReady", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, inst.url("/readyz"), nil)
		start := time.Now()
		resp, err := slow.Do(req)
		if err != nil {
			t.Fatalf("/readyz during the freeze: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) > answerWithin {
			t.Errorf("/readyz during the freeze: %d after %s", resp.StatusCode, time.Since(start))
		}
	})

	relay.Thaw()

	t.Run("RefusedWritesNotAppliedAfterThaw", func(t *testing.T) {
		for _, a := range []*asyncAnswer{write, revoke} {
			if r := a.wait(); r.err == nil && r.code < 300 {
				t.Errorf("a write held during the freeze succeeded after the thaw (%d after %s): the caller could not know", r.code, r.took)
			}
		}
		eventually(t, 30*time.Second, "admin writes succeed after the thaw", func() bool {
			code, _, err := call(context.Background(), http.MethodPost, inst.url("/admin/v1/tenants"), op, map[string]string{"id": "after", "name": "After"})
			return err == nil && (code == http.StatusCreated || code == http.StatusConflict)
		})
		// Whatever the frozen connections held has been delivered by now,
		// and PostgreSQL's idle_in_transaction_session_timeout (the store
		// timeout + 2 s) has passed for any transaction left open.
		if rest := time.Until(frozenAt.Add(2*storeTimeout + 10*time.Second)); rest > 0 {
			time.Sleep(rest)
		}
		direct := pgtest.OpenSchema(t, cl.dsn, cl.schema, postgres.Options{NoMigrate: true})
		ctx := context.Background()
		if _, err := direct.GetTenant(ctx, "frozen"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tenant refused with 503 during the freeze: GetTenant = %v, want not found", err)
		}
		if active := tokenActive(t, inst, cl, victim); !active {
			t.Errorf("token whose revocation was refused with 503 is revoked after the thaw")
		}
	})

	t.Run("SameWritesSucceedAfterThaw", func(t *testing.T) {
		mustCall(t, http.MethodPost, inst.url("/admin/v1/tenants"), op, map[string]string{"id": "frozen", "name": "Frozen"}, http.StatusCreated, nil)
		code, body, err := formPost(context.Background(), inst.url("/oauth2/revoke"), cl.opID, cl.opSecret, url.Values{"token": {victim}})
		if err != nil || code != http.StatusOK {
			t.Fatalf("revoke after the thaw: %d %s %v", code, body, err)
		}
		if tokenActive(t, inst, cl, victim) {
			t.Errorf("token revoked after the thaw is still active")
		}
	})

	t.Run("ChangesFromOtherInstancesArriveAgain", func(t *testing.T) {
		other := pgtest.OpenSchema(t, cl.dsn, cl.schema, postgres.Options{NoMigrate: true})
		ctx := context.Background()
		err := other.Tx(ctx, func(tx store.Tx) error {
			return tx.UpdateClient(ctx, spare.ClientID, func(c store.Client) (store.Client, error) {
				c.Status = store.StatusDisabled
				return c, nil
			})
		})
		if err != nil {
			t.Fatalf("disable a client from another instance: %v", err)
		}
		eventually(t, 15*time.Second, "a client disabled elsewhere refused after the thaw", func() bool {
			code, _, err := tokenResp(ctx, inst.url(""), spare.ClientID, spare.ClientSecret, "")
			return err == nil && code == http.StatusUnauthorized
		})
	})
	t.Run("OutageLoggedAsUnavailableNotInternalError", func(t *testing.T) {
		out := inst.output()
		if !strings.Contains(out, `level=WARN msg="admin: store unavailable"`) || !strings.Contains(out, `level=WARN msg="store unavailable; answered temporarily_unavailable"`) {
			t.Errorf("the refused admin write and revocation are not logged as store unavailable at WARN")
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "internal error") || strings.Contains(line, "level=ERROR") {
				t.Errorf("outage logged as an error: %s", line)
			}
		}
	})
	if t.Failed() {
		t.Logf("server output:\n%s", inst.output())
	}
}

// tokenActive introspects tok at inst as the operator.
func tokenActive(t *testing.T, inst *child, cl *pgCluster, tok string) bool {
	t.Helper()
	code, data, err := formPost(context.Background(), inst.url("/oauth2/introspect"), cl.opID, cl.opSecret, url.Values{"token": {tok}})
	var out struct {
		Active bool `json:"active"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal(data, &out) != nil {
		t.Fatalf("introspect: %d %s %v", code, data, err)
	}
	return out.Active
}

// answer is what one request got.
type answer struct {
	code   int
	header http.Header
	body   []byte
	err    error
	took   time.Duration
}

// asyncAnswer is a request sent in the background.
type asyncAnswer struct {
	done chan struct{}
	a    answer
}

func sendAsync(hc *http.Client, req *http.Request) *asyncAnswer {
	r := &asyncAnswer{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		start := time.Now()
		resp, err := hc.Do(req)
		if err == nil {
			r.a.code, r.a.header = resp.StatusCode, resp.Header
			r.a.body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		r.a.err, r.a.took = err, time.Since(start)
	}()
	return r
}

// within returns the answer if it came within d.
func (r *asyncAnswer) within(d time.Duration) (answer, bool) {
	select {
	case <-r.done:
		return r.a, true
	case <-time.After(d):
		return answer{}, false
	}
}

// wait returns the answer once it came (the client has a timeout).
func (r *asyncAnswer) wait() answer {
	<-r.done
	return r.a
}
