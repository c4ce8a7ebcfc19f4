// Package server wires keyshift together: configuration → store → signing
// keys → protocol and admin handlers → http.Server, with health, readiness,
// metrics and graceful shutdown.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/authz"
	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/console"
	"github.com/keyshift/keyshift/internal/credcheck"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/notify"
	"github.com/keyshift/keyshift/internal/redact"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/sqlite"
	"github.com/keyshift/keyshift/internal/traffic"
)

// Config is everything keyshift serve needs.
type Config struct {
	DB         string // SQLite file path or postgres:// URL
	Issuer     string // public base URL, no trailing slash
	Addr       string // listen address
	SecretFile string // master secret file, used when Secret is empty
	Secret     string // master secret (KEYSHIFT_SECRET)
	TLSCert    string
	TLSKey     string
	SigningAlg string
	// KeyPrePublish is how long a next signing key is published before it signs.
	KeyPrePublish time.Duration
	// SessionTTL and RefreshTokenTTL bound people's sign-ins at keyshift's
	// pages and their refresh token families; zero selects authz's defaults
	// (12 h, 90 days).
	SessionTTL      time.Duration
	RefreshTokenTTL time.Duration
	// KeyRotateEvery is the scheduled rotation period of the active signing key.
	KeyRotateEvery time.Duration
	// Routes, when set, puts the guard and a reverse proxy to Upstream (or
	// Routes.Upstream) on every path keyshift does not serve itself.
	Routes   *gateway.Routes
	Upstream string
	// Extra mounts more handlers by ServeMux pattern (the demo's clock).
	Extra map[string]http.Handler
	// APIKeyHeader is the request header carrying legacy keys (X-API-Key).
	APIKeyHeader string
	Logger       *slog.Logger
	Now          func() time.Time
	// AllowPrivateWebhooks lets tenant webhooks reach loopback and private
	// addresses (tests, single-network installations); off by default
	// against server-side request forgery.
	AllowPrivateWebhooks bool
	// KeyNow, when set, is the clock of legacy key decisions only; the demo
	// moves it to show the sunset without expiring tokens.
	KeyNow func() time.Time
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers name the client (--trusted-proxies); none by default, not
	// even loopback. Rate limits, usage records, audit entries and logs
	// all use the address clientip resolves.
	TrustedProxies []netip.Prefix
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	// Every log line of the server goes through the redacting handler, so
	// no credential shape reaches the log whatever a log site passes.
	c.Logger = slog.New(redact.NewHandler(c.Logger.Handler()))
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.KeyNow == nil {
		c.KeyNow = c.Now
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Issuer == "" {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		c.Issuer = scheme + "://" + c.Addr
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.SecretFile == "" {
		c.SecretFile = defaultSecretFile(c.DB)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
}

// defaultSecretFile keeps the master secret next to a SQLite database, so a
// copied data directory stays usable while the secret is never inside the DB.
func defaultSecretFile(db string) string {
	if db == "" || strings.Contains(db, "://") {
		return "keyshift.secret"
	}
	return filepath.Join(filepath.Dir(db), strings.TrimSuffix(filepath.Base(db), filepath.Ext(db))+".secret")
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OpenStore opens the store named by dsn: a postgres:// URL for PostgreSQL,
// otherwise a SQLite file path (optionally prefixed "sqlite:"), with
// store.DefaultTimeout for each of its operations.
func OpenStore(ctx context.Context, dsn string, logger *slog.Logger, now func() time.Time) (store.Store, error) {
	return OpenStoreTimeout(ctx, dsn, logger, now, 0)
}

// OpenStoreTimeout is OpenStore with the deadline of each read and each
// transaction (0 means store.DefaultTimeout): past it the operation fails
// with store.ErrUnavailable, which requests answer with 503.
func OpenStoreTimeout(ctx context.Context, dsn string, logger *slog.Logger, now func() time.Time, timeout time.Duration) (store.Store, error) {
	switch {
	case dsn == "":
		return nil, errors.New("no database given (--db or KEYSHIFT_DB)")
	case IsPostgres(dsn):
		st, err := postgres.Open(ctx, dsn, postgres.Options{Logger: logger, Now: now, Timeout: timeout})
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return st, nil
	default:
		path := strings.TrimPrefix(dsn, "sqlite:")
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("database directory %s does not exist", filepath.Dir(path))
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{Logger: logger, Now: now, Timeout: timeout})
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		return st, nil
	}
}

// Server is a running keyshift instance.
type Server struct {
	cfg      Config
	Store    store.Store
	Keyring  *signing.Keyring
	Authz    *authz.Server
	Admin    *admin.API
	Console  *console.Console
	Notifier *notify.Notifier
	// Keys checks legacy API keys and counts their use; Tokens counts the
	// requests the gateway forwards with access tokens.
	Keys     *apikey.Service
	Tokens   *traffic.Service
	sweeper  *apikey.Sweeper
	gateway  http.Handler
	Registry *prometheus.Registry
	handler  http.Handler
}

// New builds a server on an open store. The store must have been bootstrapped.
func New(ctx context.Context, cfg Config, st store.Store) (*Server, error) {
	cfg.defaults()
	master, err := signing.LoadMasterSecret(cfg.Secret, cfg.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("master secret: %w", err)
	}
	sealer, err := signing.NewSealer(master)
	if err != nil {
		return nil, fmt.Errorf("master secret: %w", err)
	}
	keyring, err := signing.New(ctx, st, sealer, signing.Config{
		Alg: cfg.SigningAlg, ExtraAlgs: idTokenAlgs(cfg.SigningAlg), PrePublish: cfg.KeyPrePublish, RotateEvery: cfg.KeyRotateEvery,
		Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	keys, err := apikey.NewService(st, apikey.ServiceConfig{Now: cfg.KeyNow, Logger: cfg.Logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("api key service: %w", err)
	}
	sweeper, err := apikey.NewSweeper(st, apikey.SweepConfig{Now: cfg.KeyNow, Logger: cfg.Logger, BeforeSweep: keys.Flush, Registerer: reg, NotifyDisabled: notify.KeyDisabled})
	if err != nil {
		return nil, fmt.Errorf("api key sweeper: %w", err)
	}
	az, err := authz.New(authz.Config{Issuer: cfg.Issuer, Now: cfg.Now, Logger: cfg.Logger, Registerer: reg, Keys: keys,
		PageKey: pageKey(master), AllowPrivateJWKSURIs: cfg.AllowPrivateWebhooks,
		SessionTTL: cfg.SessionTTL, RefreshTokenTTL: cfg.RefreshTokenTTL,
		FirstPartyClients: []string{admin.ConsoleClientID}}, st, keyring)
	if err != nil {
		return nil, fmt.Errorf("authorization server: %w", err)
	}
	adm := admin.New(st, principalAuthenticator{az}, keyring, admin.Config{Now: cfg.Now, Logger: cfg.Logger, Sealer: sealer})
	nt, err := notify.New(st, sealer, notify.Config{Now: cfg.Now, Logger: cfg.Logger, Registerer: reg, AllowPrivateNetworks: cfg.AllowPrivateWebhooks})
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	if err := admin.EnsureConsoleClient(ctx, st, cfg.Issuer, cfg.Now); err != nil {
		return nil, err
	}
	oauthMux := http.NewServeMux()
	az.Register(oauthMux)
	con, err := console.New(console.Config{
		Issuer: cfg.Issuer, Key: derivedKey(master, "keyshift console key v1"), OAuth: oauthMux, Tokens: keyring,
		Credentials: credentialChecks{issuer: cfg.Issuer, oauth: oauthMux, store: st}, Now: cfg.Now, Logger: cfg.Logger,
	}, adm)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	tokens, err := traffic.New(st, traffic.Config{Logger: cfg.Logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("token traffic: %w", err)
	}
	s := &Server{cfg: cfg, Store: st, Keyring: keyring, Authz: az, Admin: adm, Notifier: nt, Keys: keys, Tokens: tokens, sweeper: sweeper, Registry: reg, Console: con}
	if cfg.Routes != nil {
		gw, err := gateway.New(gateway.Config{Routes: cfg.Routes, Upstream: cfg.Upstream, Registerer: reg, Logger: cfg.Logger, Now: cfg.Now,
			TokenUsage: tokens,
			Guard: guard.Config{Issuer: cfg.Issuer, KeySource: keyring, TokenStatus: az, ClientIP: clientip.From,
				KeyChecker: gateway.NewLocalKeys(keys), APIKeyHeader: cfg.APIKeyHeader, Logger: cfg.Logger}})
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		s.gateway = gw
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of every keyshift endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.Authz.Register(mux)
	s.Admin.Register(mux)
	s.Console.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	for pattern, h := range s.cfg.Extra {
		mux.Handle(pattern, h)
	}
	if s.gateway != nil {
		// keyshift's own, more specific patterns win over this one.
		mux.Handle("/", s.gateway)
	}
	return withRecover(s.cfg.Logger, clientip.New(s.cfg.TrustedProxies).Middleware(withSecurityHeaders(mux)))
}

// ready reports whether this instance can serve: the store answers and a key signs.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.Store.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("readiness: store unreachable", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.Keyring.ActiveKeyID() == "" {
		http.Error(w, "no active signing key", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Serve starts the background work (caches, key maintenance) and serves HTTP
// on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Background work outlives the request context until HTTP has drained,
	// so the last usage counts are flushed after the last request.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		stopBackground()
		s.Keys.Wait()
		s.Tokens.Wait()
	}()
	if err := s.Start(bg); err != nil {
		return err
	}

	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.cfg.Logger.Info("keyshift serving", "addr", ln.Addr().String(), "issuer", s.cfg.Issuer)
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.cfg.Logger.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	return nil
}

// Start loads the in-memory caches and starts the background work (change
// feed followers, key maintenance, usage flushes, sweeps, notifications)
// until ctx is done. Serve calls it; tests that mount Handler call it directly.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Authz.Start(ctx); err != nil {
		return fmt.Errorf("start authorization server: %w", err)
	}
	if err := s.Keys.Start(ctx); err != nil {
		return fmt.Errorf("start api key service: %w", err)
	}
	if err := s.Tokens.Start(ctx); err != nil {
		return fmt.Errorf("start token traffic counter: %w", err)
	}
	go s.Keyring.Run(ctx)
	// Failed-authentication limits hold across the instances on one database.
	go s.Authz.ShareFailures(ctx, s.Store, authz.DefaultFailureShareEvery)
	go s.sweeper.Run(ctx)
	go s.Notifier.Run(ctx)
	go s.Notifier.RunScheduler(ctx)
	return nil
}

// principalAuthenticator adapts the authorization server's token check to
// the admin API's view of a caller.
type principalAuthenticator struct{ az *authz.Server }

func (p principalAuthenticator) Authenticate(ctx context.Context, bearer string) (admin.Principal, error) {
	ti, err := p.az.Authenticate(ctx, bearer)
	if err != nil {
		return admin.Principal{}, err
	}
	return admin.Principal{Subject: ti.Subject, ClientID: ti.ClientID, Tenant: ti.Tenant, Scopes: ti.Scopes}, nil
}

// pageKey derives the key of the pages' CSRF tokens and of refresh tokens
// from the master secret, so every instance sharing it agrees.
func pageKey(master []byte) []byte { return derivedKey(master, "keyshift authz page key v1") }

// derivedKey derives a purpose-bound key from the master secret.
func derivedKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// credentialChecks runs the credentials checklist (package credcheck) for the console,
// against this process's own endpoints; the store tells it the client's
// status, which the token endpoint's invalid_client hides.
type credentialChecks struct {
	issuer string
	oauth  http.Handler
	store  store.Store
}

func (c credentialChecks) TestCredentials(ctx context.Context, clientID, secret, scope string) []console.CheckResult {
	hc := &http.Client{Transport: console.InProcess(c.oauth), Timeout: 10 * time.Second}
	status := func(ctx context.Context, id string) (string, error) {
		cl, err := c.store.GetClient(ctx, id)
		if err != nil {
			return "", fmt.Errorf("load client %s: %w", id, err)
		}
		return cl.Status, nil
	}
	var out []console.CheckResult
	for _, ch := range credcheck.ClientSecret(ctx, c.issuer, clientID, secret, strings.Fields(scope), hc, status) {
		out = append(out, console.CheckResult{Name: ch.Name, Status: ch.Status, Detail: ch.Detail, Fix: ch.Fix})
	}
	return out
}

// idTokenAlgs are the algorithms kept besides the access tokens' own, so
// every ID token alg a client may register (RS256, the OpenID Connect
// default, ES256, EdDSA) has an active key.
func idTokenAlgs(primary string) []string {
	if primary == "" {
		primary = signing.AlgES256
	}
	var out []string
	for _, a := range []string{signing.AlgRS256, signing.AlgES256, signing.AlgEdDSA} {
		if a != primary {
			out = append(out, a)
		}
	}
	return out
}
