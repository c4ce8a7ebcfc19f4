package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// TestOutage_PostgresUnreachable_DegradesAndRecovers runs keyshift on
// PostgreSQL through a proxy, cuts the proxy and checks the degraded mode:
// tokens for cached clients are issued and verified, admin writes fail with
// a 503 problem and Retry-After, /readyz is 503. After the proxy is restored
// the same process recovers: writes succeed, /readyz is 200, and changes
// made by another instance reach it again through the change feed.
func TestOutage_PostgresUnreachable_DegradesAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	cl := newPGCluster(t)
	u, err := url.Parse(cl.db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewRelay(t, u.Host)
	u.Host = proxy.Addr()
	// Short timeouts so the outage is noticed within the test's patience.
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	inst := startServe(t, cl.serveArgs(u.String())...)
	op := mustToken(t, inst.url(""), cl.opID, cl.opSecret, "keyshift:admin")
	mustCall(t, http.MethodPost, inst.url("/admin/v1/tenants"), op, map[string]string{"id": "before", "name": "Before"}, http.StatusCreated, nil)

	proxy.Cut()

	t.Run("AdminWriteAnswers503WithRetryAfter", func(t *testing.T) {
		eventually(t, 10*time.Second, "admin write refused with 503", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, inst.url("/admin/v1/tenants"), jsonBody(map[string]string{"id": "during", "name": "During"}))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+op)
			resp, err := httpc.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Logf("during outage: %d %+v", resp.StatusCode, p)
				return false
			}
			if p.Type != "urn:keyshift:problem:unavailable" || resp.Header.Get("Retry-After") == "" ||
				resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("503 answer: type %q, Retry-After %q, Content-Type %q", p.Type, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
			}
			return true
		})
	})

	t.Run("TokensStillIssuedAndVerified", func(t *testing.T) {
		for i := range 20 {
			tok := mustToken(t, inst.url(""), cl.opID, cl.opSecret, "keyshift:admin")
			code, data, err := formPost(context.Background(), inst.url("/oauth2/introspect"), cl.opID, cl.opSecret, url.Values{"token": {tok}})
			var out struct {
				Active bool `json:"active"`
			}
			if err != nil || code != http.StatusOK || json.Unmarshal(data, &out) != nil || !out.Active {
				t.Fatalf("introspect %d during outage: %d %s %v", i, code, data, err)
			}
		}
	})

	t.Run("ReadyzAnswers503", func(t *testing.T) {
		eventually(t, 5*time.Second, "/readyz 503", func() bool {
			req, _ := http.NewRequest(http.MethodGet, inst.url("/readyz"), nil)
			code, _, err := do(req)
			return err == nil && code == http.StatusServiceUnavailable
		})
	})

	proxy.Restore()

	t.Run("RecoversWithoutRestart", func(t *testing.T) {
		took := eventually(t, 15*time.Second, "admin write after the outage", func() bool {
			code, _, err := call(context.Background(), http.MethodPost, inst.url("/admin/v1/tenants"), op, map[string]string{"id": "after", "name": "After"})
			return err == nil && (code == http.StatusCreated || code == http.StatusConflict)
		})
		t.Logf("admin writes succeed %s after the proxy came back", took)
		eventually(t, 5*time.Second, "/readyz 200", func() bool {
			req, _ := http.NewRequest(http.MethodGet, inst.url("/readyz"), nil)
			code, _, err := do(req)
			return err == nil && code == http.StatusOK
		})
		// A change by another instance (here a store on a direct connection)
		// must reach this one again: its LISTEN connection was cut too.
		other := pgtest.OpenSchema(t, cl.dsn, cl.schema, postgres.Options{NoMigrate: true})
		ctx := context.Background()
		err := other.Tx(ctx, func(tx store.Tx) error {
			return tx.UpdateClient(ctx, cl.opID, func(c store.Client) (store.Client, error) {
				c.Status = store.StatusDisabled
				return c, nil
			})
		})
		if err != nil {
			t.Fatalf("disable the operator client from another instance: %v", err)
		}
		took = eventually(t, 15*time.Second, "a change made elsewhere enforced after the outage", func() bool {
			code, _, err := tokenResp(ctx, inst.url(""), cl.opID, cl.opSecret, "")
			return err == nil && code == http.StatusUnauthorized
		})
		t.Logf("a client disabled by another instance was refused %s after the write", took)
	})
}

func jsonBody(v any) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(errors.Join(json.NewEncoder(pw).Encode(v))) }()
	return pr
}
