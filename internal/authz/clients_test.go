package authz

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestClientCache_DeletedTenantTakesItsClients(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	e.tenant("globex", store.StatusActive)
	gone := e.client("acme", []string{"a.b.read"})
	stays := e.client("globex", []string{"a.b.read"})
	if err := e.st.Tx(e.ctx, func(tx store.Tx) error { return tx.DeleteTenant(e.ctx, "acme") }); err != nil {
		t.Fatal(err)
	}
	e.waitFor(func() bool { c, _ := e.srv.clients.lookup(gone.ID); return c == nil })
	if c, active := e.srv.clients.lookup(stays.ID); c == nil || !active {
		t.Fatal("client of another tenant dropped")
	}
}

func TestClientCache_DeletedClientRefused(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")
	if err := e.st.Tx(e.ctx, func(tx store.Tx) error { return tx.DeleteClient(e.ctx, c.ID) }); err != nil {
		t.Fatal(err)
	}
	e.waitFor(func() bool {
		return e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}}).status == http.StatusUnauthorized
	})
	if _, err := e.srv.Authenticate(e.ctx, tok); err == nil {
		t.Fatal("token of a deleted client accepted")
	}
}

func TestClientCache_ResyncReloadsEverything(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	// Change the cache behind the feed's back, as a lost notification would.
	e.srv.clients.mu.Lock()
	delete(e.srv.clients.clients, c.ID)
	e.srv.clients.mu.Unlock()
	if err := e.srv.apply(e.ctx, store.Change{Kind: store.ChangeResync}); err != nil {
		t.Fatal(err)
	}
	if cl, _ := e.srv.clients.lookup(c.ID); cl == nil {
		t.Fatal("resync did not reload the client")
	}
}

// TestToken_ConcurrentIssueWhileClientsChange is for the race detector:
// token requests against the cache while the feed rewrites it.
func TestToken_ConcurrentIssueWhileClientsChange(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read", "a.b.write"})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				r := e.post(oauth.PathToken, &c, url.Values{"grant_type": {oauth.GrantClientCredentials}, "scope": {"a.b.read"}})
				if r.status != http.StatusOK {
					t.Errorf("token: %d %s", r.status, r.body)
					return
				}
			}
		})
	}
	for i := range 20 {
		e.updateClient(c.ID, func(cl *store.Client) { cl.Name = "renamed " + string(rune('a'+i)) })
	}
	wg.Wait()
}
