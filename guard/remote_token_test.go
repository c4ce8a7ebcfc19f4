package guard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/admin"
)

// A guard outside keyshift learns of a revoked token or a disabled client
// through keyshift's real introspection endpoint, within IntrospectEvery.
func TestRemote_RevokedTokenAndDisabledClient_RefusedWithinIntrospectEvery(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	clk := &clock{t: time.Now()}
	cfg := is.guardConfig()
	cfg.TokenIntrospector = guard.RemoteKeys(is.URL+"/oauth2/introspect", is.clientID, is.secret, 0)
	cfg.IntrospectEvery = 10 * time.Second
	cfg.Now = clk.now
	g := newGuard(t, cfg)
	h := g.Require()(echo)
	tok, other := is.token(t), is.token(t)
	for _, tk := range []string{tok, other} {
		if w := call(h, "Authorization", "Bearer "+tk); w.Code != 200 {
			t.Fatalf("fresh token: %d %s", w.Code, w.Body)
		}
	}

	form := url.Values{"token": {tok}}
	req, _ := http.NewRequest("POST", is.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(is.clientID, is.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if w := call(h, "Authorization", "Bearer "+tok); w.Code != 200 {
		t.Fatalf("revoked but within IntrospectEvery: %d (cached answer expected)", w.Code)
	}
	clk.t = clk.t.Add(11 * time.Second)
	eventually(t, func() bool { return call(h, "Authorization", "Bearer "+tok).Code == 401 }, "revoked token refused")
	if w := call(h, "Authorization", "Bearer "+other); w.Code != 200 {
		t.Fatalf("other token: %d %s", w.Code, w.Body)
	}

	// Disable the client: its remaining token stops working too. The
	// guard's own credentials are that client's, so introspection itself
	// fails, and the guard keeps the last answer: use an operator instead.
	cfg.TokenIntrospector = guard.RemoteKeys(is.URL+"/oauth2/introspect", is.ClientID, is.ClientSecret, 0)
	g = newGuard(t, cfg)
	h = g.Require()(echo)
	if w := call(h, "Authorization", "Bearer "+other); w.Code != 200 {
		t.Fatalf("before disabling: %d %s", w.Code, w.Body)
	}
	disabled := "disabled"
	if _, err := is.API.UpdateClient(context.Background(), admin.SystemPrincipal(), "acme", is.clientID,
		admin.UpdateClientRequest{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(11 * time.Second)
	eventually(t, func() bool {
		clk.t = clk.t.Add(11 * time.Second)
		return call(h, "Authorization", "Bearer "+other).Code == 401
	}, "token of a disabled client refused")
}

// eventually polls cond for up to 2 s: keyshift's own caches follow its
// change feed a moment after a change.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
