// Package authz implements keyshift's OAuth 2.0 protocol endpoints: token
// (RFC 6749, client_credentials), introspection (RFC 7662), revocation
// (RFC 7009), authorization server metadata (RFC 8414) and the JWKS.
//
// Clients, tenant status and revocations are served from memory, loaded by
// Start and kept current by the store's change feed, so issuing a token
// never touches the store.
package authz

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/keyshift/keyshift/internal/store"
)

// Signer signs and verifies keyshift's JWTs; *signing.Keyring implements it.
type Signer interface {
	// Sign returns a compact JWS with header typ and the JSON of claims.
	Sign(typ string, claims any) (string, error)
	// Verify checks the signature and header typ of token and returns its
	// payload and key id.
	Verify(token, wantTyp string) (payload []byte, kid string, err error)
	// JWKS returns the published key set and its entity tag.
	JWKS() (body []byte, etag string)
}

// Config configures the protocol endpoints.
type Config struct {
	// Issuer is the public base URL, e.g. "https://auth.example.com"; no
	// trailing slash, query or fragment (RFC 8414 §2).
	Issuer string
	// Audience is the "aud" of access tokens; default Issuer.
	Audience string
	// DefaultTokenTTL is the access token lifetime of a client without its
	// own; default 24 h.
	DefaultTokenTTL time.Duration
	// MaxBodyBytes bounds request bodies; default 64 KiB.
	MaxBodyBytes int64
	// FailureBurst failed client authentications are allowed per client id
	// and per remote address, refilled at FailureRate; then every request
	// from that id or address is refused (429) until a failure is free
	// again. Defaults: 10, one per 6 s. FailureBurst < 0 disables limiting.
	FailureBurst int
	FailureRate  rate.Limit
	// ResyncInterval is the backstop full reload of the caches, for a
	// change notification lost on the way; default 5 min.
	ResyncInterval time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	// Registerer receives the endpoints' metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Keys, when set, lets introspection answer for legacy API keys
	// (token_type_hint=api_key); see KeyIntrospector.
	Keys KeyIntrospector
}

func (c *Config) defaults() error {
	if c.Issuer == "" {
		return errors.New("issuer is required")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Issuer, "/") {
		return fmt.Errorf("issuer %q must be an http(s) URL without trailing slash, query or fragment", c.Issuer)
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	if c.DefaultTokenTTL <= 0 {
		c.DefaultTokenTTL = 24 * time.Hour
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.FailureBurst == 0 {
		c.FailureBurst = defaultFailureBurst
	}
	if c.FailureRate == 0 {
		c.FailureRate = defaultFailureRate
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server serves the OAuth 2.0 protocol endpoints.
type Server struct {
	cfg    Config
	st     store.Store
	signer Signer
	log    *slog.Logger
	aud    audience
	grants map[string]grant

	clients       *clientCache
	revoked       *revocationSet
	metadata      atomic.Pointer[[]byte]
	clientLimiter *failureLimiter
	addrLimiter   *failureLimiter
	metrics       *metrics
	started       atomic.Bool
}

// New returns a Server; call Start to load its caches before serving.
func New(cfg Config, st store.Store, signer Signer) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("authz config: %w", err)
	}
	if st == nil || signer == nil {
		return nil, errors.New("authz: store and signer are required")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("authz: %w", err)
	}
	s := &Server{
		cfg: cfg, st: st, signer: signer, log: cfg.Logger,
		aud:           audience{cfg.Audience},
		grants:        map[string]grant{GrantClientCredentials: clientCredentialsGrant{}},
		clients:       newClientCache(),
		revoked:       newRevocationSet(),
		clientLimiter: newFailureLimiter(cfg.FailureRate, cfg.FailureBurst, defaultMaxTracked),
		addrLimiter:   newFailureLimiter(cfg.FailureRate, cfg.FailureBurst, defaultMaxTracked),
		metrics:       m,
	}
	body, err := s.buildMetadata(nil)
	if err != nil {
		return nil, err
	}
	s.metadata.Store(&body)
	return s, nil
}

// Register adds the protocol endpoints to mux. Each handler answers wrong
// methods itself: 405 with Allow, and an OAuth error body on POST endpoints.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc(PathToken, s.handleToken)
	mux.HandleFunc(PathIntrospect, s.handleIntrospect)
	mux.HandleFunc(PathRevoke, s.handleRevoke)
	mux.HandleFunc(PathASMetadata, s.handleMetadata)
	mux.HandleFunc(PathOIDCDiscovery, s.handleMetadata)
	mux.HandleFunc(PathJWKS, s.handleJWKS)
}
