package tokensource

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// AuthMethod is how the client authenticates at the token endpoint
// (RFC 8414 token_endpoint_auth_method values).
type AuthMethod string

// The client authentication methods a Source supports. They mirror
// internal/oauth's, which a public package may not import (DESIGN.md).
const (
	// AuthClientSecretBasic sends id and secret in an HTTP Basic header
	// (RFC 6749 §2.3.1). The default.
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretPost sends id and secret in the form body.
	AuthClientSecretPost AuthMethod = "client_secret_post"
	// AuthPrivateKeyJWT signs a short-lived JWT with the client's private
	// key (RFC 7523 §2.2); no shared secret.
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// Config configures a Source. TokenURL or Issuer, and ClientID, are required;
// so is a secret (ClientSecret or SecretFunc) unless AuthMethod is
// AuthPrivateKeyJWT, which needs PrivateKey.
type Config struct {
	// TokenURL is the token endpoint. When empty it is discovered from
	// Issuer.
	TokenURL string
	// Issuer is the authorization server's issuer URL, used for discovery
	// (RFC 8414, then OpenID Connect Discovery) when TokenURL is empty.
	Issuer string

	ClientID string
	// ClientSecret is the client's secret. SecretFunc, when set, is used
	// instead and called before every token request, so a secret file or
	// variable can be rotated without a restart.
	ClientSecret string
	SecretFunc   func(ctx context.Context) (string, error)
	// AuthMethod defaults to AuthClientSecretBasic.
	AuthMethod AuthMethod
	// PrivateKey (an *rsa.PrivateKey, *ecdsa.PrivateKey or
	// ed25519.PrivateKey) and its KeyID sign private_key_jwt assertions.
	PrivateKey crypto.Signer
	KeyID      string

	// Scopes to request; none sends no scope parameter.
	Scopes []string
	// Audience, when set, is sent as the "audience" parameter (used by
	// several servers to pick the API a token is for); Resource as the
	// RFC 8707 "resource" parameter.
	Audience string
	Resource string

	// HTTPClient talks to the token and discovery endpoints; default a
	// client with a 30 s timeout.
	HTTPClient *http.Client
	// CacheFile, when set, is a file shared by every process on the host
	// that uses the same client: a fresh token found there is used instead
	// of requesting one. Created 0600, replaced atomically, guarded by a
	// lock on CacheFile+".lock".
	CacheFile string

	// RefreshWindow is the last fraction of a token's lifetime in which it
	// is refreshed ahead of expiry; default 1/6 (20 h into a 24 h token).
	RefreshWindow float64
	// Jitter spreads the refresh point by ± this much so that workers do
	// not refresh together; default a fortieth of the window, at most
	// 5 min. Negative disables it.
	Jitter time.Duration
	// MinBackoff and MaxBackoff bound the delay between failed token
	// requests (exponential with jitter); defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one token request; default 30 s.
	RequestTimeout time.Duration
	// ExpiryLeeway: a token this close to expiry is not handed out; default
	// 30 s, and at most a tenth of the token's lifetime.
	ExpiryLeeway time.Duration
	// DefaultLifetime is assumed when the server omits expires_in; default
	// 1 h.
	DefaultLifetime time.Duration
	// SkewWarning: a server Date header further than this from the local
	// clock is logged as clock skew; default 1 min.
	SkewWarning time.Duration
	// MinRemintInterval: after a 401 from a resource, the Transport forces
	// a new token at most this often, so a resource that rejects every
	// token cannot cause a storm of token requests; default 5 s.
	MinRemintInterval time.Duration
	// UserAgent for requests to the authorization server.
	UserAgent string

	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
	// Logger receives refresh events and warnings; default slog.Default().
	Logger *slog.Logger
	// OnEvent, when set, is called (synchronously, keep it quick) for every
	// token event, e.g. to count them in metrics.
	OnEvent func(Event)
}

func (c *Config) validate() error {
	if c.TokenURL == "" && c.Issuer == "" {
		return errors.New("tokensource: TokenURL or Issuer is required")
	}
	for _, u := range []string{c.TokenURL, c.Issuer} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("tokensource: %q is not an http(s) URL", u)
		}
	}
	if c.ClientID == "" {
		return errors.New("tokensource: ClientID is required")
	}
	switch c.AuthMethod {
	case "":
		c.AuthMethod = AuthClientSecretBasic
		fallthrough
	case AuthClientSecretBasic, AuthClientSecretPost:
		if c.ClientSecret == "" && c.SecretFunc == nil {
			return errors.New("tokensource: ClientSecret or SecretFunc is required")
		}
	case AuthPrivateKeyJWT:
		if c.PrivateKey == nil {
			return errors.New("tokensource: PrivateKey is required for private_key_jwt")
		}
		if _, err := assertionAlg(c.PrivateKey); err != nil {
			return err
		}
	default:
		return fmt.Errorf("tokensource: unsupported AuthMethod %q", c.AuthMethod)
	}
	if c.RefreshWindow < 0 || c.RefreshWindow >= 1 {
		return fmt.Errorf("tokensource: RefreshWindow %v must be in [0, 1)", c.RefreshWindow)
	}
	return nil
}

func (c *Config) defaults() {
	if c.RefreshWindow == 0 {
		c.RefreshWindow = 1.0 / 6
	}
	setDur(&c.MinBackoff, time.Second)
	setDur(&c.MaxBackoff, 5*time.Minute)
	setDur(&c.RequestTimeout, 30*time.Second)
	setDur(&c.ExpiryLeeway, 30*time.Second)
	setDur(&c.DefaultLifetime, time.Hour)
	setDur(&c.SkewWarning, time.Minute)
	setDur(&c.MinRemintInterval, 5*time.Second)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.UserAgent == "" {
		c.UserAgent = "keyshift-tokensource/1"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDur(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// EventType names what happened to a Source's token.
type EventType string

// The events a Source reports through Config.OnEvent.
const (
	// EventMinted: a new token came from the token endpoint.
	EventMinted EventType = "minted"
	// EventCacheHit: a fresh token was taken from the shared cache file.
	EventCacheHit EventType = "cache_hit"
	// EventFailed: a token request failed; Err says why.
	EventFailed EventType = "failed"
	// EventInvalidated: the token was dropped (Invalidate or a 401).
	EventInvalidated EventType = "invalidated"
)

// Event describes one token event. It carries no token or secret.
type Event struct {
	Type EventType
	// Expiry and RefreshAt of the new token (EventMinted, EventCacheHit).
	Expiry    time.Time
	RefreshAt time.Time
	// Scopes granted (EventMinted, EventCacheHit).
	Scopes []string
	// Duration of the token request (EventMinted, EventFailed).
	Duration time.Duration
	// Err is the failure (EventFailed).
	Err error
}
