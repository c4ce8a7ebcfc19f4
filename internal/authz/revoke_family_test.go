package authz

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/guard"
)

// familyOfThree runs the code flow and refreshes twice: three access tokens
// of one family, the refresh tokens in order.
func (e *env) familyOfThree(c testClient) (access, refresh []string) {
	e.t.Helper()
	_, r := e.personTokens(c, webRedirect, "core.invoice.read offline_access", "alice", alicePassword)
	for {
		if r.status != http.StatusOK {
			e.t.Fatalf("token: %d %s", r.status, r.body)
		}
		access, refresh = append(access, r.str("access_token")), append(refresh, r.str("refresh_token"))
		if len(access) == 3 {
			return access, refresh
		}
		r = e.refresh(c, r.str("refresh_token"), "")
	}
}

// guarded is an API behind keyshift's own guard, in process, as `serve`
// wires it: it answers 200 to a token the guard accepts.
func (e *env) guarded() func(token string) int {
	e.t.Helper()
	g, err := guard.New(guard.Config{Issuer: e.ts.URL, KeySource: e.keys, TokenStatus: e.srv, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	h := g.Require()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	return func(token string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/invoices", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
}

// TestRevoke_RefreshToken_RevokesEveryAccessTokenOfTheFamily: RFC 7009 §2.1
// — revoking a refresh token invalidates the access tokens of the same
// grant, all of them, not just the newest; so does reuse detection (RFC
// 9700 §4.14.2), which revokes the family.
func TestRevoke_RefreshToken_RevokesEveryAccessTokenOfTheFamily(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.webClient("acme", webRedirect)
	api := e.guarded()
	for _, tt := range []struct {
		name string
		end  func(refresh []string)
	}{
		{"revocation of the current refresh token", func(refresh []string) {
			if r := e.post(PathRevoke, &c, url.Values{"token": {refresh[2]}, "token_type_hint": {"refresh_token"}}); r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
		}},
		{"reuse of the first refresh token", func(refresh []string) {
			e.clock.Advance(e.srv.cfg.RefreshReuseGrace + time.Second)
			wantReplyError(t, e.refresh(c, refresh[0], ""), http.StatusBadRequest, CodeInvalidGrant)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			access, refresh := e.familyOfThree(c)
			for i, at := range access {
				if code := api(at); code != http.StatusOK {
					t.Fatalf("access token %d refused by the guard before revocation: %d", i+1, code)
				}
			}
			tt.end(refresh)
			for i, at := range access {
				if r := e.post(PathIntrospect, &c, url.Values{"token": {at}}); r.status != http.StatusOK || r.json["active"] != false {
					t.Errorf("access token %d: introspection %d %s, want active false", i+1, r.status, r.body)
				}
				if code := api(at); code != http.StatusUnauthorized {
					t.Errorf("access token %d: guard answered %d, want 401", i+1, code)
				}
			}
			// Another family of the same client and person is untouched.
			other, _ := e.familyOfThree(c)
			if code := api(other[0]); code != http.StatusOK {
				t.Errorf("another family's token refused: %d", code)
			}
		})
	}
}

// lockedLog collects a server's log lines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefreshReuse_LogSaysWhatHappened: the warning names the event and its
// reason, not the name of a Go variable.
func TestRefreshReuse_LogSaysWhatHappened(t *testing.T) {
	var logs lockedLog
	e := newOIDCEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	c := e.webClient("acme", webRedirect)
	_, refresh := e.familyOfThree(c)
	e.clock.Advance(e.srv.cfg.RefreshReuseGrace + time.Second)
	wantReplyError(t, e.refresh(c, refresh[0], ""), http.StatusBadRequest, CodeInvalidGrant)
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "family=") {
			line = l
		}
	}
	if line == "" || strings.Contains(line, "revokedFor") || !strings.Contains(line, "used again") || !strings.Contains(line, "reason=refresh_reuse") {
		t.Errorf("reuse warning = %q", line)
	}
}
