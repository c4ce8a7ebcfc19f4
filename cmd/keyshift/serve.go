package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/redact"
	"github.com/keyshift/keyshift/internal/server"
	"github.com/keyshift/keyshift/internal/store"
)

// commonFlags are the flags shared by serve and init, each also an
// environment variable.
type commonFlags struct {
	db, issuer, addr, secretFile, logLevel, logFormat string
	storeTimeout                                      time.Duration
}

func (f *commonFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", envOr("KEYSHIFT_DB", "keyshift.db"), "SQLite file path (or postgres:// URL) [KEYSHIFT_DB]")
	cmd.Flags().StringVar(&f.issuer, "issuer", envOr("KEYSHIFT_ISSUER", ""), "public base URL of this server (default http://ADDR) [KEYSHIFT_ISSUER]")
	cmd.Flags().StringVar(&f.addr, "addr", envOr("KEYSHIFT_ADDR", "127.0.0.1:8080"), "listen address [KEYSHIFT_ADDR]")
	cmd.Flags().StringVar(&f.secretFile, "secret-file", envOr("KEYSHIFT_SECRET_FILE", ""), "master secret file, created 0600 when missing (default next to the database); KEYSHIFT_SECRET overrides it [KEYSHIFT_SECRET_FILE]")
	cmd.Flags().StringVar(&f.logLevel, "log-level", envOr("KEYSHIFT_LOG_LEVEL", "info"), "debug, info, warn or error [KEYSHIFT_LOG_LEVEL]")
	cmd.Flags().StringVar(&f.logFormat, "log-format", envOr("KEYSHIFT_LOG_FORMAT", "text"), "text or json [KEYSHIFT_LOG_FORMAT]")
	cmd.Flags().DurationVar(&f.storeTimeout, "store-timeout", envDuration("KEYSHIFT_STORE_TIMEOUT", store.DefaultTimeout),
		"deadline of each database read and transaction; past it a request is answered 503 and its write is not made [KEYSHIFT_STORE_TIMEOUT]")
}

// openStore checks --store-timeout and opens the store with it.
func (f *commonFlags) openStore(ctx context.Context, logger *slog.Logger) (store.Store, error) {
	if err := checkEnvDurations("KEYSHIFT_STORE_TIMEOUT"); err != nil {
		return nil, err
	}
	if f.storeTimeout <= 0 {
		return nil, fmt.Errorf("--store-timeout must be positive")
	}
	return server.OpenStoreTimeout(ctx, f.db, logger, time.Now, f.storeTimeout)
}

func (f *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(redact.NewHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(redact.NewHandler(slog.NewJSONHandler(w, opts))), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
	}
}

func newServeCmd() *cobra.Command {
	var (
		cf                   commonFlags
		tlsCert, tlsKey, alg string
		scopesFile           string
		demoMode             bool
		prePublish           time.Duration
		sessions             sessionFlags
		gw                   gatewayFlags
		trustedProxies       string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server, admin API and metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := cf.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if demoMode && !cmd.Flags().Changed("db") && os.Getenv("KEYSHIFT_DB") == "" {
				// A fresh store per demo run, so the demo secret can be shown every time.
				dir, err := os.MkdirTemp("", "keyshift-demo-")
				if err != nil {
					return fmt.Errorf("demo data directory: %w", err)
				}
				defer os.RemoveAll(dir)
				cf.db = filepath.Join(dir, "keyshift.db")
			}
			if err := checkEnvDurations("KEYSHIFT_SESSION_TTL", "KEYSHIFT_REFRESH_TOKEN_TTL"); err != nil {
				return err
			}
			if sessions.session <= 0 || sessions.refresh <= 0 {
				return fmt.Errorf("--session-ttl and --refresh-token-ttl must be positive")
			}
			if (tlsCert == "") != (tlsKey == "") {
				return fmt.Errorf("--tls-cert and --tls-key go together")
			}
			proxies, err := clientip.ParseTrusted(trustedProxies)
			if err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			cfg := server.Config{
				DB: cf.db, Issuer: cf.issuer, Addr: cf.addr, SecretFile: cf.secretFile,
				Secret: os.Getenv("KEYSHIFT_SECRET"), TLSCert: tlsCert, TLSKey: tlsKey,
				SigningAlg: alg, KeyPrePublish: prePublish, Logger: logger,
				Upstream: gw.upstream, APIKeyHeader: gw.keyHeader,
				SessionTTL: sessions.session, RefreshTokenTTL: sessions.refresh,
				TrustedProxies: proxies,
			}
			if gw.routes != "" {
				if cfg.Routes, err = gateway.LoadRoutes(gw.routes); err != nil {
					return err
				}
			} else if gw.upstream != "" {
				return fmt.Errorf("--upstream needs --routes (which routes need which scopes)")
			}
			st, err := cf.openStore(cmd.Context(), logger)
			if err != nil {
				return err
			}
			defer st.Close()
			return runServe(cmd.Context(), cmd.OutOrStdout(), st, cfg, demoMode, scopesFile)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&tlsCert, "tls-cert", envOr("KEYSHIFT_TLS_CERT", ""), "TLS certificate file (PEM) [KEYSHIFT_TLS_CERT]")
	cmd.Flags().StringVar(&tlsKey, "tls-key", envOr("KEYSHIFT_TLS_KEY", ""), "TLS private key file (PEM) [KEYSHIFT_TLS_KEY]")
	cmd.Flags().StringVar(&alg, "signing-alg", envOr("KEYSHIFT_SIGNING_ALG", "ES256"), "access token signing algorithm: ES256, EdDSA or RS256; keys of the others are kept for ID tokens [KEYSHIFT_SIGNING_ALG]")
	cmd.Flags().DurationVar(&prePublish, "key-prepublish", time.Hour, "how long a new signing key is published before it signs")
	cmd.Flags().StringVar(&scopesFile, "scopes", envOr("KEYSHIFT_SCOPES", ""), "scope catalogue file to load at start (JSON, see internal/demo/catalogue.json) [KEYSHIFT_SCOPES]")
	cmd.Flags().StringVar(&trustedProxies, "trusted-proxies", envOr("KEYSHIFT_TRUSTED_PROXIES", ""),
		"comma-separated CIDRs of proxies whose Forwarded / X-Forwarded-For header names the client (none by default, not even loopback) [KEYSHIFT_TRUSTED_PROXIES]")
	gw.register(cmd)
	sessions.register(cmd)
	cmd.Flags().BoolVar(&demoMode, "demo", false, "seed demo data (tenant acme, procurement scopes, one client) into a fresh temporary store and print curl lines")
	return cmd
}

func runServe(ctx context.Context, out io.Writer, st store.Store, cfg server.Config, demoMode bool, scopesFile string) error {
	tuneGC()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// With --addr :0 the issuer follows the real port.
	if cfg.Issuer == "" {
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		cfg.Issuer = scheme + "://" + ln.Addr().String()
	}
	op, err := server.Initialise(ctx, st, cfg.Issuer, time.Now)
	if err != nil {
		ln.Close()
		return err
	}
	if op != nil {
		fmt.Fprintf(out, "Created the operator client (the secret is shown only now):\n  client_id:     %s\n  client_secret: %s\n\n", op.ClientID, op.ClientSecret)
	}
	if err := loadScopesFile(ctx, st, scopesFile); err != nil {
		ln.Close()
		return err
	}
	var seeded demo.Result
	if demoMode {
		adm := admin.New(st, nil, nil, admin.Config{})
		if seeded, err = demo.Seed(ctx, adm, st, time.Now()); err != nil {
			ln.Close()
			return err
		}
		stopDemo, err := startDemoUpstream(ctx, &cfg)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopDemo()
	}
	srv, err := server.New(ctx, cfg, st)
	if err != nil {
		ln.Close()
		return err
	}
	if demoMode {
		printDemo(out, cfg.Issuer, seeded, op)
	}
	return srv.Serve(ctx, ln)
}

func loadScopesFile(ctx context.Context, st store.Store, path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("scope catalogue: %w", err)
	}
	defer f.Close()
	entries, err := demo.ParseCatalogue(f)
	if err != nil {
		return err
	}
	return demo.LoadCatalogue(ctx, admin.New(st, nil, nil, admin.Config{}), st, entries)
}

func printDemo(out io.Writer, issuer string, r demo.Result, op *server.OperatorCredentials) {
	if r.ClientSecret == "" {
		fmt.Fprintf(out, "Demo tenant %q is ready (its client %s existed already; its secret was shown when it was created).\n", r.Tenant, r.ClientID)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "keyshift demo: tenant %q, integration client %s\n\n", r.Tenant, r.ClientID)
	fmt.Fprintf(&b, "# 1. Get an access token (client_credentials, HTTP Basic):\n")
	fmt.Fprintf(&b, "curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth2/token\n\n", r.ClientID, r.ClientSecret, issuer)
	fmt.Fprintf(&b, "# 2. Ask for fewer scopes:\n")
	fmt.Fprintf(&b, "curl -s -u '%s:%s' -d grant_type=client_credentials -d scope=core.invoice.read %s/oauth2/token\n\n", r.ClientID, r.ClientSecret, issuer)
	fmt.Fprintf(&b, "# 3. Inspect it (introspection, RFC 7662):\n")
	fmt.Fprintf(&b, "TOKEN=$(curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth2/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", r.ClientID, r.ClientSecret, issuer)
	fmt.Fprintf(&b, "curl -s -u '%s:%s' --data-urlencode token=$TOKEN %s/oauth2/introspect\n\n", r.ClientID, r.ClientSecret, issuer)
	fmt.Fprintf(&b, "# 4. Discovery and signing keys:\n")
	fmt.Fprintf(&b, "curl -s %s/.well-known/oauth-authorization-server\ncurl -s %s/.well-known/jwks.json\n\n", issuer, issuer)
	if r.Key != "" {
		fmt.Fprintf(&b, "# 5. The sample procurement API behind the gateway, with the legacy key: works, and says it is going away (Deprecation, Sunset, Link):\n")
		fmt.Fprintf(&b, "curl -si -H 'X-API-Key: %s' %s/api/invoices\n\n", r.Key, issuer)
		fmt.Fprintf(&b, "# 6. ... with the token: works\n")
		fmt.Fprintf(&b, "curl -s -H \"Authorization: Bearer $TOKEN\" %s/api/invoices\n\n", issuer)
		fmt.Fprintf(&b, "# 7. ... with a token that lacks the scope (core.purchase_order.write): 403 insufficient_scope\n")
		fmt.Fprintf(&b, "curl -si -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"supplier_id\":1,\"total\":\"10.00\",\"currency\":\"EUR\"}' %s/api/purchase_orders\n\n", issuer)
		if off := r.Timeline.KeysOffAt; off != nil {
			fmt.Fprintf(&b, "# 8. Move the demo's key clock past keys_off_at (%s): the key is refused with api_key_sunset\n", off.Format(time.DateOnly))
			fmt.Fprintf(&b, "curl -s -d at=%s %s/demo/clock\n", off.AddDate(0, 0, 1).Format(time.RFC3339), issuer)
			fmt.Fprintf(&b, "curl -s -H 'X-API-Key: %s' %s/api/invoices\n", r.Key, issuer)
			fmt.Fprintf(&b, "curl -s -d at=now %s/demo/clock\n\n", issuer)
		}
	}
	if op != nil {
		fmt.Fprintf(&b, "# 9. Admin API as the operator (migration report):\n")
		fmt.Fprintf(&b, "ADMIN=$(curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth2/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", op.ClientID, op.ClientSecret, issuer)
		fmt.Fprintf(&b, "curl -s -H \"Authorization: Bearer $ADMIN\" %s/admin/v1/migration\n\n", issuer)
	}
	printPeopleDemo(&b, issuer, r)
	_, _ = io.WriteString(out, b.String())
}

func newInitCmd() *cobra.Command {
	var (
		cf     commonFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create and migrate the store and print the operator's client credentials once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := cf.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			issuer := strings.TrimRight(cf.issuer, "/")
			if issuer == "" {
				issuer = "http://" + cf.addr
			}
			ctx := cmd.Context()
			st, err := cf.openStore(ctx, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			op, err := server.Initialise(ctx, st, issuer, time.Now)
			if err != nil {
				return err
			}
			if op == nil {
				return fmt.Errorf("store %s is already initialised; its operator credentials were shown when it was created", cf.db)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(op)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "issuer:        %s\nclient_id:     %s\nclient_secret: %s\n(the secret is shown only now)\n", op.Issuer, op.ClientID, op.ClientSecret)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"issuer\",\"client_id\",\"client_secret\"} as JSON")
	return cmd
}

// printPeopleDemo prints the part of the demo where people sign in: the
// console and the device flow of the demo app.
func printPeopleDemo(b *strings.Builder, issuer string, r demo.Result) {
	if len(r.Users) == 0 {
		return
	}
	fmt.Fprintf(b, "# 10. The web console: open %s/console/ and sign in as\n", issuer)
	for _, u := range r.Users {
		role := ""
		if u.Role != "" {
			role = " (" + u.Role + ")"
		}
		fmt.Fprintf(b, "#     organisation %-9s login %-9s password %s%s\n", u.Tenant, u.Login, u.Password, role)
	}
	if r.AppClientID != "" {
		fmt.Fprintf(b, "\n# 11. Sign a person in to an app from a terminal (device flow, RFC 8628): open the verification URI it prints, sign in as alice and approve\n")
		fmt.Fprintf(b, "curl -s -d client_id=%s -d 'scope=openid profile offline_access core.invoice.read' %s/oauth2/device_authorization\n", r.AppClientID, issuer)
		fmt.Fprintf(b, "curl -s -d client_id=%s -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code=DEVICE_CODE %s/oauth2/token\n", r.AppClientID, issuer)
	}
	b.WriteString("\n")
}

// sessionFlags set the lifetimes of what people's sign-ins leave behind.
type sessionFlags struct {
	session, refresh time.Duration
}

func (f *sessionFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.session, "session-ttl", envDuration("KEYSHIFT_SESSION_TTL", 12*time.Hour),
		"how long a sign-in at keyshift's pages lasts [KEYSHIFT_SESSION_TTL]")
	cmd.Flags().DurationVar(&f.refresh, "refresh-token-ttl", envDuration("KEYSHIFT_REFRESH_TOKEN_TTL", 90*24*time.Hour),
		"absolute lifetime of a refresh token family, never extended by rotation [KEYSHIFT_REFRESH_TOKEN_TTL]")
}

// envDuration reads a duration default from the environment, or def when
// unset; an unparsable value is reported by checkEnvDurations.
func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// checkEnvDurations refuses an environment variable that should hold a
// duration and does not, rather than fall back to the default silently.
func checkEnvDurations(names ...string) error {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				return fmt.Errorf("%s=%q is not a duration (e.g. 12h, 2160h)", n, v)
			}
		}
	}
	return nil
}

// serverGCPercent is the GOGC keyshift serves with unless GOGC is set.
// keyshift's live heap is a few MiB (caches, templates) and each token
// allocates ~16 KiB, so with the default 100 the collector runs every few
// hundred tokens and rescans the whole heap each time: measured on
// loopback, 400 gives ~10 % more tokens/s for ~10 MiB more memory.
const serverGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}
