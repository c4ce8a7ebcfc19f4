package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

const testIssuer = "http://keyshift.test"

// newTestConsole is a console on a real SQLite store and keyring, with no
// OAuth endpoints behind it: enough for the sign-in checks that happen
// before and after the code exchange.
func newTestConsole(t *testing.T) (*Console, *signing.Keyring, store.Store) {
	return newTestConsoleWith(t, http.NotFoundHandler())
}

func newTestConsoleWith(t *testing.T, oauth http.Handler) (*Console, *signing.Keyring, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ks.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := admin.Bootstrap(ctx, st, time.Now); err != nil {
		t.Fatal(err)
	}
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := signing.New(ctx, st, sealer, signing.Config{RotateEvery: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	api := admin.New(st, nil, ring, admin.Config{})
	c, err := New(Config{Issuer: testIssuer, Key: bytes.Repeat([]byte{9}, 32), OAuth: oauth, Tokens: ring, Logger: slog.New(slog.DiscardHandler)}, api)
	if err != nil {
		t.Fatal(err)
	}
	return c, ring, st
}

// idToken signs an ID token with the keyring as keyshift would.
func idToken(t *testing.T, ring *signing.Keyring, claims map[string]any) string {
	t.Helper()
	tok, err := ring.SignWith("RS256", "JWT", claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCheckIDToken_RefusesWhatIsNotForTheConsole(t *testing.T) {
	c, ring, _ := newTestConsole(t)
	good := func() map[string]any {
		return map[string]any{"iss": testIssuer, "sub": "usr_1", "aud": admin.ConsoleClientID, "exp": time.Now().Add(time.Hour).Unix(), "nonce": "n1"}
	}
	tests := []struct {
		name   string
		modify func(map[string]any)
		nonce  string
		ok     bool
	}{
		{"valid", func(map[string]any) {}, "n1", true},
		{"another issuer", func(m map[string]any) { m["iss"] = "http://evil.test" }, "n1", false},
		{"another client's token", func(m map[string]any) { m["aud"] = "other-client" }, "n1", false},
		{"expired", func(m map[string]any) { m["exp"] = time.Now().Add(-time.Minute).Unix() }, "n1", false},
		{"nonce of another sign-in", func(map[string]any) {}, "n2", false},
		{"no subject", func(m map[string]any) { delete(m, "sub") }, "n1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.modify(m)
			sub, err := c.checkIDToken(idToken(t, ring, m), tt.nonce)
			if (err == nil) != tt.ok {
				t.Fatalf("checkIDToken: sub %q err %v, want ok=%v", sub, err, tt.ok)
			}
		})
	}
	// An access token (typ at+jwt) is not an ID token.
	at, err := ring.Sign("at+jwt", good())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.checkIDToken(at, "n1"); err == nil {
		t.Fatal("an access token passed as the ID token")
	}
}

// TestCallback_RefusesForgedOrForeignAnswers: the callback needs this
// browser's sealed flow cookie, its state and keyshift's iss (RFC 9207)
// before it redeems anything.
func TestCallback_RefusesForgedOrForeignAnswers(t *testing.T) {
	var redeemed atomic.Int32
	c, _, _ := newTestConsoleWith(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		redeemed.Add(1)
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
	}))
	// A real sign-in start gives the flow cookie and the state.
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, testIssuer+"/console/t/acme/keys", nil))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/oauth2/authorize?") {
		t.Fatalf("unauthenticated page: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	var flow *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == flowCookie {
			flow = ck
		}
	}
	if flow == nil || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode {
		t.Fatalf("flow cookie %+v", flow)
	}
	loc := rec.Header().Get("Location")
	state := loc[strings.Index(loc, "state=")+len("state="):]
	if i := strings.IndexByte(state, '&'); i >= 0 {
		state = state[:i]
	}
	tampered := *flow
	tampered.Value = flow.Value[:len(flow.Value)-2] + "AA"
	tests := []struct {
		name   string
		cookie *http.Cookie
		query  string
	}{
		{"no flow cookie", nil, "state=" + state + "&iss=" + testIssuer + "&code=x"},
		{"tampered flow cookie", &tampered, "state=" + state + "&iss=" + testIssuer + "&code=x"},
		{"state of another sign-in", flow, "state=OTHER&iss=" + testIssuer + "&code=x"},
		{"answer from another issuer (mix-up)", flow, "state=" + state + "&iss=http://evil.test&code=x"},
		{"answer without iss", flow, "state=" + state + "&code=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, testIssuer+"/console/callback?"+tt.query, nil)
			if tt.cookie != nil {
				req.AddCookie(tt.cookie)
			}
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", rec.Code)
			}
			if n := redeemed.Load(); n != 0 {
				t.Fatalf("the code was sent to the token endpoint (%d times) before the answer was checked", n)
			}
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == sessionCookie && ck.Value != "" {
					t.Fatal("a session cookie was set")
				}
			}
		})
	}
}

// TestPages_SecurityHeaders: console pages are never framed, cached or
// allowed a script or style from elsewhere.
func TestPages_SecurityHeaders(t *testing.T) {
	c, _, _ := newTestConsole(t)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, testIssuer+"/console/tenants", nil))
	h := rec.Header()
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", h)
	}
}
