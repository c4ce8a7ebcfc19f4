package authz

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// TestRevoke_StoreUnreachable_503LoggedAsWarning: a revocation while the
// database cannot be reached is answered temporarily_unavailable and logged
// as a store outage at WARN, not as an internal error.
func TestRevoke_StoreUnreachable_503LoggedAsWarning(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.NewSchema(t, dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	relay := pgtest.NewRelay(t, u.Host)
	u.Host = relay.Addr()
	var logs lockedLog
	e := newEnvOn(t, func(_ context.Context, clock *testClock, log *slog.Logger) store.Store {
		return pgtest.OpenSchema(t, u.String(), schema, postgres.Options{Now: clock.Now, Logger: log})
	}, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")

	relay.Cut()
	r := e.post(oauth.PathRevoke, &c, url.Values{"token": {tok}})
	if r.status != http.StatusServiceUnavailable || r.str("error") != oauth.CodeTemporarilyUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("revoke with the database cut off: %d %s, want 503 temporarily_unavailable with Retry-After", r.status, r.body)
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="internal error"`) {
			t.Errorf("logged as an internal error: %s", line)
		}
		warned = warned || strings.Contains(line, "level=WARN") && strings.Contains(line, `msg="store unavailable`)
	}
	if !warned {
		t.Errorf("no store-unavailable warning in:\n%s", logs.String())
	}
}
