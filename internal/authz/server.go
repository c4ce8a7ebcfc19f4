// Package authz implements keyshift's OAuth 2.0 protocol endpoints: token
// (RFC 6749, client_credentials), introspection (RFC 7662), revocation
// (RFC 7009), authorization server metadata (RFC 8414) and the JWKS.
//
// Clients, tenant status and revocations are served from memory, loaded by
// Start and kept current by the store's change feed, so issuing a token
// never touches the store.
package authz

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/password"
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
	// and per client address, refilled at FailureRate; beyond that a
	// failing client authentication is answered 429 until a failure is
	// free again, while correct credentials are always served. Sign-ins
	// and user codes (guessable) from a throttled address or account are
	// refused outright. Defaults: 10, one per 6 s. FailureBurst < 0
	// disables limiting.
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
	// AllowPrivateJWKSURIs lets private_key_jwt clients' jwks_uri be http
	// on loopback or reach private addresses (tests, single-network
	// installations); off by default against server-side request forgery.
	AllowPrivateJWKSURIs bool

	// PageKey (32 bytes or more) keys the HMACs of the pages' CSRF tokens
	// and of refresh tokens. Every instance on one store needs the same;
	// the server derives it from the master secret. Empty: random per
	// process (one instance, tests).
	PageKey []byte
	// Passwords checks people's passwords; default argon2id with
	// password.DefaultParams.
	Passwords *password.Hasher
	// SessionTTL is how long a sign-in at keyshift's pages lasts; default 12 h.
	SessionTTL time.Duration
	// PersonTokenTTL caps access tokens issued for a person; default 1 h.
	PersonTokenTTL time.Duration
	// RefreshTokenTTL is the absolute lifetime of a refresh token family,
	// never extended by rotation; default 90 days.
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is how long after a rotation the replaced refresh
	// token still answers (with the current one), for a client's
	// concurrent requests; default 10 s. Later use revokes the family.
	RefreshReuseGrace time.Duration
	// GrantGCInterval is how often expired grant records are collected;
	// default 10 min.
	GrantGCInterval time.Duration
	// DeviceCodeTTL is how long a device code (RFC 8628) waits for the
	// person's approval; default 10 min.
	DeviceCodeTTL time.Duration
	// DevicePollInterval is the device flow's polling interval, whole
	// seconds; default 5 s (RFC 8628 §3.2).
	DevicePollInterval time.Duration
	// FirstPartyClients are keyshift's own clients (the console): people
	// are not asked to consent to them, as they are part of the service
	// they signed in to.
	FirstPartyClients []string
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
	if len(c.PageKey) == 0 {
		c.PageKey = make([]byte, 32)
		if _, err := rand.Read(c.PageKey); err != nil {
			return fmt.Errorf("page key: %w", err)
		}
	} else if len(c.PageKey) < 32 {
		return errors.New("page key must be at least 32 bytes")
	}
	if c.Passwords == nil {
		h, err := password.New(password.DefaultParams())
		if err != nil {
			return err
		}
		c.Passwords = h
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.PersonTokenTTL <= 0 {
		c.PersonTokenTTL = time.Hour
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = 90 * 24 * time.Hour
	}
	if c.RefreshReuseGrace <= 0 {
		c.RefreshReuseGrace = 10 * time.Second
	}
	if c.GrantGCInterval <= 0 {
		c.GrantGCInterval = 10 * time.Minute
	}
	if c.DeviceCodeTTL <= 0 {
		c.DeviceCodeTTL = 10 * time.Minute
	}
	if c.DevicePollInterval <= 0 {
		c.DevicePollInterval = 5 * time.Second
	}
	c.DevicePollInterval = max(c.DevicePollInterval.Truncate(time.Second), time.Second)
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
	assertions    *assertionVerifier
	metrics       *metrics
	started       atomic.Bool
	// accountLimiter counts failed sign-ins per tenant and login.
	accountLimiter *failureLimiter

	pages         pageTemplates
	pageKey       []byte
	refreshKey    []byte
	secureCookies bool
	passwords     *password.Hasher
	scopeDescs    atomic.Pointer[map[string]string]
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
		clients:       newClientCache(),
		revoked:       newRevocationSet(),
		clientLimiter: newFailureLimiter(cfg.FailureRate, cfg.FailureBurst, defaultMaxTracked),
		addrLimiter:   newFailureLimiter(cfg.FailureRate, cfg.FailureBurst, defaultMaxTracked),
		assertions:    newAssertionVerifier(cfg, st),
		metrics:       m,

		accountLimiter: newFailureLimiter(cfg.FailureRate, cfg.FailureBurst, defaultMaxTracked),
		pageKey:        deriveKey(cfg.PageKey, "keyshift pages csrf v1"),
		refreshKey:     deriveKey(cfg.PageKey, "keyshift refresh tokens v1"),
		secureCookies:  strings.HasPrefix(cfg.Issuer, "https://"),
		passwords:      cfg.Passwords,
	}
	s.grants = map[string]grant{
		oauth.GrantClientCredentials: clientCredentialsGrant{},
		oauth.GrantAuthorizationCode: authorizationCodeGrant{s},
		oauth.GrantRefreshToken:      refreshTokenGrant{s},
		oauth.GrantDeviceCode:        deviceCodeGrant{s},
	}
	if s.pages, err = loadPageTemplates(); err != nil {
		return nil, fmt.Errorf("authz: %w", err)
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
	mux.HandleFunc(oauth.PathToken, s.handleToken)
	mux.HandleFunc(oauth.PathIntrospect, s.handleIntrospect)
	mux.HandleFunc(oauth.PathRevoke, s.handleRevoke)
	mux.HandleFunc(oauth.PathASMetadata, s.handleMetadata)
	mux.HandleFunc(oauth.PathOIDCDiscovery, s.handleMetadata)
	mux.HandleFunc(oauth.PathJWKS, s.handleJWKS)
	mux.HandleFunc(oauth.PathAuthorize, s.handleAuthorize)
	mux.HandleFunc(oauth.PathLogin, s.handleLogin)
	mux.HandleFunc(oauth.PathConsent, s.handleConsent)
	mux.HandleFunc(oauth.PathUserinfo, s.handleUserinfo)
	mux.HandleFunc(oauth.PathLogout, s.handleLogout)
	mux.HandleFunc(oauth.PathDeviceAuthorization, s.handleDeviceAuthorization)
	mux.HandleFunc(oauth.PathDevice, s.handleDevice)
	mux.HandleFunc(PathPagesCSS, s.handlePagesCSS)
}

// deriveKey derives a purpose-bound key from the page key, so the CSRF and
// refresh-token HMACs never share a key.
func deriveKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
