package authz

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// tcpRelay forwards connections to a database until it is cut, as a
// network between keyshift and PostgreSQL would.
type tcpRelay struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func startRelay(t *testing.T, target string) *tcpRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRelay{ln: ln, target: target}
	go r.serve()
	t.Cleanup(r.cut)
	return r
}

func (r *tcpRelay) serve() {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			in.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, in, out)
		r.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

// cut closes the listener and every relayed connection.
func (r *tcpRelay) cut() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

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
	relay := startRelay(t, u.Host)
	u.Host = relay.ln.Addr().String()
	var logs lockedLog
	e := newEnvOn(t, func(_ context.Context, clock *testClock, log *slog.Logger) store.Store {
		return pgtest.OpenSchema(t, u.String(), schema, postgres.Options{Now: clock.Now, Logger: log})
	}, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"a.b.read"})
	tok := e.token(c, "")

	relay.cut()
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
