package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
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
