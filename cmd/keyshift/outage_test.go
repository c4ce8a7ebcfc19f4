package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// cutProxy is a TCP proxy in front of PostgreSQL that a test can cut and
// restore, making the database unreachable for one keyshift instance
// without stopping the machine's shared PostgreSQL cluster.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = in.Close() // a database that does not answer
			continue
		}
		go p.pipe(in)
	}
}

func (p *cutProxy) pipe(in net.Conn) {
	out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = in.Close()
		return
	}
	if !p.track(in, out) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
	_ = in.Close()
	_ = out.Close()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// track registers a connection pair, or closes it when the proxy was cut
// meanwhile.
func (p *cutProxy) track(in, out net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		_ = in.Close()
		_ = out.Close()
		return false
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	return true
}

// cut breaks every open connection and refuses new ones.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

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
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr()
	// Short timeouts so the outage is noticed within the test's patience.
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	inst := startServe(t, cl.serveArgs(u.String())...)
	op := mustToken(t, inst.url(""), cl.opID, cl.opSecret, "keyshift:admin")
	mustCall(t, http.MethodPost, inst.url("/admin/v1/tenants"), op, map[string]string{"id": "before", "name": "Before"}, http.StatusCreated, nil)

	proxy.cut()

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

	proxy.restore()

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
