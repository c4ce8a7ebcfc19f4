package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/gateway"
)

// newGatewayCmd runs the guard and reverse proxy apart from the
// authorization server: tokens are verified against the issuer's JWKS, keys
// and revocations are asked of its introspection endpoint.
func newGatewayCmd() *cobra.Command {
	var (
		gw                                 gatewayFlags
		issuer, addr, clientID, secretFile string
		cacheTTL                           time.Duration
		logLevel                           string
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the guard and reverse proxy in front of an API, asking a keyshift server about credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if issuer == "" || gw.routes == "" || clientID == "" {
				return errors.New("--issuer, --routes and --client-id are required")
			}
			secret := os.Getenv("KEYSHIFT_GATEWAY_CLIENT_SECRET")
			if secretFile != "" {
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return fmt.Errorf("--client-secret-file: %w", err)
				}
				secret = strings.TrimSpace(string(b))
			}
			if secret == "" {
				return errors.New("no client secret: use --client-secret-file or KEYSHIFT_GATEWAY_CLIENT_SECRET")
			}
			routes, err := gateway.LoadRoutes(gw.routes)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			gcfg := gateway.RemoteGuardConfig(strings.TrimRight(issuer, "/"), clientID, secret, cacheTTL)
			gcfg.APIKeyHeader, gcfg.Logger = gw.keyHeader, logger
			proxy, err := gateway.New(gateway.Config{Routes: routes, Upstream: gw.upstream, Guard: gcfg, Registerer: reg, Logger: logger})
			if err != nil {
				return err
			}
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
			mux.Handle("/", proxy)
			return serveHTTP(cmd.Context(), logger, addr, mux)
		},
	}
	gw.register(cmd)
	cmd.Flags().StringVar(&issuer, "issuer", envOr("KEYSHIFT_ISSUER", ""), "keyshift issuer URL [KEYSHIFT_ISSUER]")
	cmd.Flags().StringVar(&addr, "addr", envOr("KEYSHIFT_GATEWAY_ADDR", "127.0.0.1:8081"), "listen address [KEYSHIFT_GATEWAY_ADDR]")
	cmd.Flags().StringVar(&clientID, "client-id", envOr("KEYSHIFT_GATEWAY_CLIENT_ID", ""), "client that introspects keys and tokens (an operator's, or the tenant's) [KEYSHIFT_GATEWAY_CLIENT_ID]")
	cmd.Flags().StringVar(&secretFile, "client-secret-file", "", "file holding that client's secret (else KEYSHIFT_GATEWAY_CLIENT_SECRET)")
	cmd.Flags().DurationVar(&cacheTTL, "cache-ttl", 30*time.Second, "how long introspection answers are reused (revocations take effect within it)")
	cmd.Flags().StringVar(&logLevel, "log-level", envOr("KEYSHIFT_LOG_LEVEL", "info"), "debug, info, warn or error")
	return cmd
}

// serveHTTP serves h on addr with production timeouts until ctx is done.
func serveHTTP(ctx context.Context, logger *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 32 << 10, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("gateway serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
