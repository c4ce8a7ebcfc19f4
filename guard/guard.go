package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults of Config.
const (
	DefaultLeeway       = 30 * time.Second
	DefaultAPIKeyHeader = "X-API-Key"
	DefaultCacheSize    = 10000
	DefaultRealm        = "api"
	// DefaultJWKSMinRefresh is the least time between two fetches of the
	// JWKS, however many unknown kids arrive.
	DefaultJWKSMinRefresh = 10 * time.Second
	// DefaultJWKSMaxAge is how long a fetched JWKS is used before it is
	// fetched again (keyshift serves it with max-age=300).
	DefaultJWKSMaxAge = 5 * time.Minute
)

// TokenStatus reports what can change about a token after it was issued.
// keyshift feeds an implementation from its change feed, in process, so
// both answers are map lookups and are consulted on every request, cached
// tokens included. It must be safe for concurrent use.
type TokenStatus interface {
	// Revoked reports whether the token with this jti was revoked.
	Revoked(jti string) bool
	// ClientActive reports whether the client (and its tenant) may still
	// use its tokens.
	ClientActive(clientID string) bool
}

// TokenIntrospector asks the authorization server whether a token is still
// active (RFC 7662). It must be safe for concurrent use.
type TokenIntrospector interface {
	IntrospectToken(ctx context.Context, token string) (active bool, err error)
}

// Config configures a Guard. Issuer and one of JWKSURL, KeySet or
// KeySource are required.
type Config struct {
	// Issuer is the expected "iss" of tokens, e.g. "https://auth.example.com".
	Issuer string
	// Audience is the expected "aud"; default Issuer (keyshift's default).
	Audience string
	// JWKSURL is where the issuer publishes its keys, e.g.
	// Issuer + "/.well-known/jwks.json".
	JWKSURL string
	// KeySet is a fixed key set, used instead of JWKSURL.
	KeySet *jose.JSONWebKeySet
	// KeySource supplies the key set in process (keyshift's own keyring),
	// used instead of JWKSURL and KeySet.
	KeySource KeySetSource
	// Leeway is the clock skew allowed on exp and nbf; default 30 s, a
	// negative value means none.
	Leeway time.Duration
	// TokenStatus, when set, refuses revoked tokens and disabled clients.
	TokenStatus TokenStatus
	// TokenIntrospector, when set, is asked whether a verified token is
	// still active, at most every IntrospectEvery per token (default
	// 30 s): how a guard outside keyshift's process learns of revoked
	// tokens and disabled clients. *Remote implements it.
	TokenIntrospector TokenIntrospector
	IntrospectEvery   time.Duration
	// KeyChecker checks legacy API keys; nil means keys are not accepted.
	KeyChecker KeyChecker
	// APIKeyHeader is the header carrying a legacy key; default X-API-Key.
	APIKeyHeader string
	// CacheSize bounds the verified-token cache; default 10000.
	CacheSize int
	// JWKSMinRefresh and JWKSMaxAge: see the defaults.
	JWKSMinRefresh time.Duration
	JWKSMaxAge     time.Duration
	// HTTPClient fetches the JWKS; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Realm is the realm of WWW-Authenticate challenges; default "api".
	Realm string
	// ClientIP returns the client address of a request for key usage
	// records; default the host of RemoteAddr. Set it behind a proxy.
	ClientIP func(*http.Request) string
	// OnDecision, when set, is called once per request with the outcome,
	// for metrics. It must be fast and must not keep the request.
	OnDecision func(*http.Request, Outcome)
	Now        func() time.Time
	Logger     *slog.Logger
}

// Outcome describes the guard's decision on one request.
type Outcome struct {
	// Kind is the credential presented; empty when none was.
	Kind Kind
	// Allowed is true when the request reaches the handler.
	Allowed bool
	// Code is the refusal's error code; empty when allowed.
	Code string
	// KeyDecision is the key checker's decision, for keys.
	KeyDecision string
	// Tenant is the credential's tenant, when known.
	Tenant string
}

// Guard verifies credentials and guards handlers. It is safe for concurrent
// use.
type Guard struct {
	cfg       Config
	keys      *keySource
	cache     *tokenCache
	keyHeader string // canonical form of cfg.APIKeyHeader
	realm     string
	log       *slog.Logger
}

// New returns a Guard for cfg.
func New(cfg Config) (*Guard, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	g := &Guard{
		cfg: cfg, cache: newTokenCache(cfg.CacheSize), log: cfg.Logger,
		keyHeader: textproto.CanonicalMIMEHeaderKey(cfg.APIKeyHeader),
		realm:     quotable(cfg.Realm),
	}
	if cfg.KeySource != nil {
		g.keys = &keySource{src: cfg.KeySource, now: cfg.Now}
	} else if cfg.KeySet != nil {
		ks, err := newStaticKeys(cfg.KeySet, cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		g.keys = ks
	} else {
		g.keys = &keySource{
			url: cfg.JWKSURL, client: cfg.HTTPClient, minRefresh: cfg.JWKSMinRefresh,
			maxAge: cfg.JWKSMaxAge, now: cfg.Now, log: cfg.Logger,
		}
	}
	return g, nil
}

func (c *Config) defaults() error {
	if c.Issuer == "" {
		return errors.New("issuer is required")
	}
	if c.KeySet == nil && c.KeySource == nil {
		if c.JWKSURL == "" {
			return errors.New("a JWKS URL, a key set or a key source is required")
		}
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("JWKS URL %q is not an http(s) URL", c.JWKSURL)
		}
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	}
	c.APIKeyHeader = cmpOr(c.APIKeyHeader, DefaultAPIKeyHeader)
	c.Realm = cmpOr(c.Realm, DefaultRealm)
	if c.IntrospectEvery <= 0 {
		c.IntrospectEvery = DefaultRemoteCacheTTL
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.JWKSMinRefresh <= 0 {
		c.JWKSMinRefresh = DefaultJWKSMinRefresh
	}
	if c.JWKSMaxAge <= 0 {
		c.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteHost
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// remoteHost returns the host part of r.RemoteAddr without allocating.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// VerifyToken verifies a bearer access token as the middleware does
// (signature, typ, issuer, audience, lifetime, revocation, client status)
// and returns its principal. Errors are *Error values.
func (g *Guard) VerifyToken(ctx context.Context, token string) (Principal, error) {
	p, e := g.token(ctx, token)
	if e != nil {
		return Principal{}, e
	}
	return *p, nil
}

// token returns the principal of a bearer token, from the cache when it
// was verified before.
func (g *Guard) token(ctx context.Context, token string) (*Principal, *Error) {
	h := hashToken(token)
	now := g.cfg.Now()
	v := g.cache.get(&h)
	if v != nil {
		if e := g.checkLifetime(v, now); e != nil {
			g.cache.drop(&h)
			return nil, e
		}
	} else {
		if !isToken68(token) {
			return nil, errMalformed
		}
		var err error
		if v, err = g.verifyToken(ctx, token, now); err != nil {
			return nil, asError(err)
		}
		// Cached before the status check: status is consulted on every
		// hit, and a revoked token should not cost a signature check
		// each time it is replayed.
		g.cache.put(&h, v, now)
	}
	if e := g.checkStatus(v.principal); e != nil {
		return nil, e
	}
	if e := g.introspect(ctx, token, v, now); e != nil {
		return nil, e
	}
	return v.principal, nil
}

// key checks a legacy key. The result is returned by value so that a
// cached, prepared answer costs no allocation.
func (g *Guard) key(r *http.Request, value string) (KeyResult, *Error) {
	k, ok := parseKey(value)
	if !ok {
		res := KeyResult{Decision: DecisionUnknown}
		return res, keyRefusal(res)
	}
	info := RequestInfo{
		Method: r.Method, Route: cmpOr(r.Pattern, r.URL.Path), RemoteIP: g.cfg.ClientIP(r),
		UserAgent: r.UserAgent(), Now: g.cfg.Now(),
	}
	res, err := g.cfg.KeyChecker.CheckKey(r.Context(), k, info)
	if err != nil {
		g.log.Warn("guard: checking an API key failed", "err", err)
		res := KeyResult{Decision: CodeKeyUnavailable}
		return res, &Error{Status: http.StatusServiceUnavailable, Code: CodeKeyUnavailable,
			Description: "The API key could not be checked; try again shortly.", Key: &res, cause: err}
	}
	if !res.Active || res.Decision != DecisionAccepted {
		return res, keyRefusal(res)
	}
	return res, nil
}

func keyRefusal(res KeyResult) *Error {
	if res.Decision == "" || res.Decision == DecisionAccepted {
		res.Decision = DecisionUnknown // inactive, whatever it says
	}
	return &Error{Status: http.StatusUnauthorized, Code: res.Decision, Description: res.describe(), Key: &res}
}

// bearerValue returns the Authorization header without allocating.
func bearerValue(h http.Header) string {
	if v := h["Authorization"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// authenticate finds the request's credential and checks it. A bearer
// token wins over a key when both are sent: an integration moving to
// OAuth may still send its old key.
func (g *Guard) authenticate(r *http.Request) (p *Principal, kr KeyResult, kind Kind, e *Error) {
	if auth := bearerValue(r.Header); auth != "" {
		tok, ok, perr := parseBearer(auth)
		if ok {
			if perr != nil {
				return nil, kr, KindToken, perr
			}
			p, e = g.token(r.Context(), tok)
			return p, kr, KindToken, e
		}
	}
	vals := r.Header[g.keyHeader]
	if len(vals) == 0 {
		return nil, kr, "", ErrNoCredentials
	}
	if g.cfg.KeyChecker == nil {
		return nil, kr, KindAPIKey, errKeysNotAccepted
	}
	kr, e = g.key(r, vals[0])
	if e != nil {
		return nil, kr, KindAPIKey, e
	}
	if kr.hdr != nil {
		return kr.hdr.principal, kr, KindAPIKey, nil
	}
	return keyPrincipal(&kr), kr, KindAPIKey, nil
}

var errMalformed = tokenError("the access token is malformed", nil)

// errKeysNotAccepted answers a key where keys are not accepted: like no
// credentials at all (RFC 6750 §3.1), with a description saying why.
var errKeysNotAccepted = &Error{Status: http.StatusUnauthorized,
	Description: "API keys are not accepted here; send an OAuth 2.0 bearer token"}

// Requirement is what a route needs: a token must hold every scope; a key
// must hold every permission (a key without permissions holds all). When a
// requirement lists scopes but no permissions, a key must cover the scopes
// through the scopes its permissions map to.
type Requirement struct {
	Scopes      []string
	Permissions []string
}

// Require returns middleware admitting requests whose credential holds
// every scope listed; with none, any valid credential.
func (g *Guard) Require(scopes ...string) func(http.Handler) http.Handler {
	return g.Protect(Requirement{Scopes: scopes})
}

// Protect returns middleware admitting requests whose credential meets
// req. The principal is in the handler's request context (PrincipalFrom);
// key users get the deprecation headers on every answer.
func (g *Guard) Protect(req Requirement) func(http.Handler) http.Handler {
	c := g.compile(req)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r2, _, ok := g.admit(w, r, c); ok {
				next.ServeHTTP(w, r2)
			}
		})
	}
}

// Check is a compiled Requirement, for Admit.
type Check struct {
	req   Requirement
	scope string // req.Scopes joined, for insufficient_scope
}

// Compile prepares req for Admit.
func (g *Guard) Compile(req Requirement) *Check { c := g.compile(req); return &c }

func (g *Guard) compile(req Requirement) Check {
	req.Scopes = strings.Fields(strings.Join(req.Scopes, " "))
	return Check{req: req, scope: strings.Join(req.Scopes, " ")}
}

// Admit checks r's credential against c, for callers that need more than
// Protect (the gateway). When it admits, it has set the key deprecation
// headers on w and returns r with the principal in its context; when it
// refuses, it has written the answer. The Outcome says what happened either
// way.
func (g *Guard) Admit(w http.ResponseWriter, r *http.Request, c *Check) (*http.Request, Outcome, bool) {
	return g.admit(w, r, *c)
}

func (g *Guard) admit(w http.ResponseWriter, r *http.Request, c Check) (*http.Request, Outcome, bool) {
	p, kr, kind, e := g.authenticate(r)
	if e == nil {
		e = authorize(p, &c.req, c.scope)
	}
	if kind == KindAPIKey && e == nil {
		kr.setHeaders(w.Header())
	}
	o := outcome(p, &kr, kind, e)
	if g.cfg.OnDecision != nil {
		g.cfg.OnDecision(r, o)
	}
	if e != nil {
		if e.Key == nil && kind == KindAPIKey && e.Code == CodeInsufficientPermission {
			k := kr // a copy, so kr itself stays on the stack
			e.Key = &k
		}
		g.writeError(w, e)
		return nil, o, false
	}
	return r.WithContext(WithPrincipal(r.Context(), p)), o, true
}

// authorize checks a principal against a requirement.
func authorize(p *Principal, req *Requirement, scope string) *Error {
	switch {
	case p.Kind == KindToken && !p.HasScopes(req.Scopes):
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
			Description: "the access token lacks a scope this request needs", Scope: scope}
	case p.Kind != KindAPIKey:
		return nil
	case len(req.Permissions) > 0 && !p.HasPermissions(req.Permissions):
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientPermission,
			Description: "The API key lacks a permission this request needs.", Permissions: req.Permissions}
	case len(req.Permissions) == 0 && len(p.Permissions) > 0 && !p.HasScopes(req.Scopes):
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientPermission,
			Description: "The API key's permissions do not cover the scopes this request needs: " + scope + "."}
	}
	return nil
}

func outcome(p *Principal, kr *KeyResult, kind Kind, e *Error) Outcome {
	o := Outcome{Kind: kind, Allowed: e == nil}
	if e != nil {
		o.Code = e.Code
		if o.Code == "" {
			o.Code = "unauthorized"
		}
	}
	if kind == KindAPIKey {
		o.KeyDecision = kr.Decision
		o.Tenant = kr.Tenant
	} else if p != nil {
		o.Tenant = p.Tenant
	}
	return o
}
