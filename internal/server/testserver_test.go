package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/demoapi"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/store"
)

// testServerOptions say what a test server has besides a fresh store and
// its operator.
type testServerOptions struct {
	db     string       // a PostgreSQL DSN; "" for a fresh SQLite file
	logger *slog.Logger // nil: discard
	// gateway puts the demo API behind the server's gateway.
	gateway bool
	// seed writes what the test needs before the server starts.
	seed func(ctx context.Context, st store.Store)
	// config adjusts the server's configuration.
	config func(*Config)
}

// testServer is a real keyshift serving on a loopback listener.
type testServer struct {
	base string
	st   store.Store
	srv  *Server
	op   *OperatorCredentials
}

// startServer runs a real keyshift server over a fresh store, initialised
// as `serve` does on an empty store, until the test ends.
func startServer(t *testing.T, o testServerOptions) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.db == "" {
		o.db = filepath.Join(dir, "ks.db")
	}
	st, err := OpenStore(ctx, o.db, o.logger, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	op, err := Initialise(ctx, st, base, time.Now)
	if err != nil || op == nil {
		t.Fatalf("initialise: %v, %v", op, err)
	}
	if o.seed != nil {
		o.seed(ctx, st)
	}
	cfg := Config{DB: o.db, Issuer: base, Logger: o.logger, SecretFile: filepath.Join(dir, "ks.secret"), ShutdownTimeout: 5 * time.Second}
	var upstream *http.Server
	if o.gateway {
		up, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		upstream = &http.Server{Handler: demoapi.New(time.Now)}
		go func() { _ = upstream.Serve(up) }()
		if cfg.Routes, err = gateway.ParseRoutes(strings.NewReader(demoapi.RoutesYAML)); err != nil {
			t.Fatal(err)
		}
		cfg.Upstream = "http://" + up.Addr().String()
	}
	if o.config != nil {
		o.config(&cfg)
	}
	srv, err := New(ctx, cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if upstream != nil {
			_ = upstream.Close()
		}
		_ = st.Close()
	})
	return &testServer{base: base, st: st, srv: srv, op: op}
}
