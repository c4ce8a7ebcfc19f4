package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/demoapi"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/server"
)

// gatewayFlags put keyshift's guard in front of an existing API.
type gatewayFlags struct {
	upstream, routes, keyHeader string
}

func (f *gatewayFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.upstream, "upstream", envOr("KEYSHIFT_UPSTREAM", ""), "base URL of the API to protect (overrides the routes file's upstream) [KEYSHIFT_UPSTREAM]")
	cmd.Flags().StringVar(&f.routes, "routes", envOr("KEYSHIFT_ROUTES", ""), "routes file (YAML): method + path → scopes for tokens, permissions for keys [KEYSHIFT_ROUTES]")
	cmd.Flags().StringVar(&f.keyHeader, "api-key-header", envOr("KEYSHIFT_API_KEY_HEADER", "X-API-Key"), "request header carrying legacy API keys [KEYSHIFT_API_KEY_HEADER]")
}

// startDemoUpstream runs the sample procurement API on a loopback port,
// routes the gateway to it and mounts the demo clock.
func startDemoUpstream(ctx context.Context, cfg *server.Config) (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo API listener: %w", err)
	}
	routes, err := gateway.ParseRoutes(strings.NewReader(demoapi.RoutesYAML))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo routes: %w", err)
	}
	cfg.Routes, cfg.Upstream = routes, "http://"+ln.Addr().String()
	clock := &demoClock{}
	cfg.KeyNow = clock.Now
	cfg.Extra = map[string]http.Handler{"/demo/clock": clock}
	srv := &http.Server{Handler: demoapi.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// demoClock is the clock of legacy-key decisions in the demo: moving it
// past keys_off_at shows the sunset without expiring anyone's tokens.
type demoClock struct{ offset atomic.Int64 }

func (c *demoClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// ServeHTTP answers GET with the demo time and POST at=RFC3339|now to move it.
func (c *demoClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 1024)
		at := r.PostFormValue("at")
		switch t, err := time.Parse(time.RFC3339, at); {
		case at == "now":
			c.offset.Store(0)
		case err != nil:
			http.Error(w, `at: want an RFC 3339 time or "now"`, http.StatusBadRequest)
			return
		default:
			c.offset.Store(int64(time.Until(t)))
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "demo key clock: %s\n", c.Now().UTC().Format(time.RFC3339))
}
