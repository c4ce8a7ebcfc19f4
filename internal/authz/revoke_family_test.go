package authz

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
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
			if r := e.post(oauth.PathRevoke, &c, url.Values{"token": {refresh[2]}, "token_type_hint": {"refresh_token"}}); r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
		}},
		{"reuse of the first refresh token", func(refresh []string) {
			e.clock.Advance(e.srv.cfg.RefreshReuseGrace + time.Second)
			wantReplyError(t, e.refresh(c, refresh[0], ""), http.StatusBadRequest, oauth.CodeInvalidGrant)
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
				if r := e.post(oauth.PathIntrospect, &c, url.Values{"token": {at}}); r.status != http.StatusOK || r.json["active"] != false {
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
	wantReplyError(t, e.refresh(c, refresh[0], ""), http.StatusBadRequest, oauth.CodeInvalidGrant)
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

// TestRevoke_RefreshToken_FamilyRevokedOnOtherInstance: two instances on
// one PostgreSQL database; the family revoked on A has all its access
// tokens refused by B, which learns it from the change feed.
func TestRevoke_RefreshToken_FamilyRevokedOnOtherInstance(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.NewSchema(t, dsn)
	var opts postgres.Options
	e := newEnvOn(t, func(_ context.Context, clock *testClock, log *slog.Logger) store.Store {
		opts = postgres.Options{Now: clock.Now, Logger: log}
		return pgtest.OpenSchema(t, dsn, schema, opts)
	}, func(c *Config) { c.Passwords = cheapPasswords(t) })
	e.tenant("acme", store.StatusActive)
	e.user("acme", "alice", alicePassword, nil)
	c := e.webClient("acme", webRedirect)

	// Instance B: its own connections, keyring and server on the same schema.
	opts.NoMigrate = true
	stB := pgtest.OpenSchema(t, dsn, schema, opts)
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keysB, err := signing.New(e.ctx, stB, sealer, signing.Config{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.srv.cfg
	cfg.Registerer = prometheus.NewRegistry()
	b, err := New(cfg, stB, keysB)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(e.ctx); err != nil {
		t.Fatal(err)
	}

	access, refresh := e.familyOfThree(c)
	for i, at := range access {
		if _, err := b.Authenticate(e.ctx, at); err != nil {
			t.Fatalf("B refuses access token %d before revocation: %v", i+1, err)
		}
	}
	if r := e.post(oauth.PathRevoke, &c, url.Values{"token": {refresh[2]}}); r.status != http.StatusOK {
		t.Fatalf("revoke on A: %d %s", r.status, r.body)
	}
	for i, at := range access {
		deadline := time.Now().Add(10 * time.Second)
		for !b.Revoked(jtiOf(t, at)) {
			if time.Now().After(deadline) {
				t.Fatalf("B still accepts access token %d 10 s after A revoked its family", i+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := b.Authenticate(e.ctx, at); err == nil {
			t.Errorf("B authenticates access token %d of the revoked family", i+1)
		}
	}
}
