// Package gateway is keyshift's reverse proxy: it puts the guard in front
// of an existing API. Each route (method + path pattern) says which scopes
// a token needs and which permissions a legacy key needs; the gateway
// strips any identity headers the client sent, forwards the request with
// the principal's identity (X-Keyshift-Tenant, -Client, -Scopes,
// -Credential, -Subject, and for keys -Key-Id and -Permissions), limits each principal's rate, and
// answers upstream failures and unknown routes itself with problem JSON
// (RFC 9457).
package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/guard"
)

// Defaults of Config.
const (
	DefaultRatePerSecond         = 25
	DefaultBurst                 = 20
	DefaultMaxPrincipals         = 100000
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
)

// Identity headers the gateway sets on forwarded requests. Every header
// starting with IdentityHeaderPrefix that a client sends is removed first,
// so the upstream can trust them.
const (
	IdentityHeaderPrefix = "X-Keyshift-"
	HeaderTenant         = "X-Keyshift-Tenant"
	HeaderClient         = "X-Keyshift-Client"
	HeaderScopes         = "X-Keyshift-Scopes"
	HeaderCredential     = "X-Keyshift-Credential"
	HeaderSubject        = "X-Keyshift-Subject"
	HeaderKeyID          = "X-Keyshift-Key-Id"
	// HeaderPermissions carries a key's legacy permissions, space
	// separated, or "*" for a key allowed every API, for upstreams that
	// still check permissions themselves.
	HeaderPermissions = "X-Keyshift-Permissions"
)

// Config configures a Gateway.
type Config struct {
	// Guard configures credential checks. Its OnDecision is chained after
	// the gateway's own.
	Guard guard.Config
	// Routes are the routes; Routes.Upstream is used unless Upstream is set.
	Routes *Routes
	// Upstream overrides Routes.Upstream.
	Upstream string
	// ForwardCredentials keeps Authorization and the API key header on
	// forwarded requests; by default they are removed, so the upstream
	// never sees a bearer token or key.
	ForwardCredentials bool
	// MaxPrincipals bounds the rate limiter's table; default 100000.
	MaxPrincipals int
	// Transport reaches the upstream; default a transport with the
	// timeouts below and a large idle pool.
	Transport http.RoundTripper
	// DialTimeout and ResponseHeaderTimeout bound the upstream connection
	// and the wait for its answer's headers; defaults 5 s and 30 s. Bodies
	// stream without a deadline (set the server's timeouts for that).
	DialTimeout           time.Duration
	ResponseHeaderTimeout time.Duration
	// FlushInterval is ReverseProxy's: 0 flushes streamed (unknown-length
	// and event-stream) answers at once and buffers others; -1 flushes
	// every write.
	FlushInterval time.Duration
	// Registerer receives the gateway's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// TokenUsage, when set, counts every request forwarded with a bearer
	// token by tenant, client and day: the token side of the keys-versus-
	// tokens traffic chart (legacy keys are counted by their checker).
	// Requests the guard or the rate limit refuse are not counted.
	TokenUsage TokenRecorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// TokenRecorder counts requests made with access tokens in memory; it is
// called once per forwarded token request and must be cheap.
// *traffic.Service implements it.
type TokenRecorder interface {
	RecordToken(tenant, clientID string, at time.Time)
}

// Gateway is an http.Handler proxying guarded routes to the upstream.
type Gateway struct {
	cfg       Config
	upstream  *url.URL
	guard     *guard.Guard
	mux       *http.ServeMux
	proxy     *httputil.ReverseProxy
	keyHeader string
	tokens    *limiter // by client id; nil: no limit
	keys      *limiter // by key id
	metrics   *metrics
	log       *slog.Logger
}

// New returns a Gateway for cfg. It fails on an invalid upstream, a route
// pattern net/http refuses or two routes that conflict.
func New(cfg Config) (*Gateway, error) {
	if cfg.Routes == nil {
		return nil, errors.New("gateway: routes are required")
	}
	if err := cfg.Routes.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	cfg.defaults()
	up, err := parseUpstream(cmpOr(cfg.Upstream, cfg.Routes.Upstream))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	gw := &Gateway{cfg: cfg, upstream: up, metrics: m, log: cfg.Logger, mux: http.NewServeMux(),
		keyHeader: cmpOr(cfg.Guard.APIKeyHeader, guard.DefaultAPIKeyHeader)}
	gcfg := cfg.Guard
	next := gcfg.OnDecision
	gcfg.OnDecision = func(r *http.Request, o guard.Outcome) {
		gw.metrics.observeKey(o)
		if next != nil {
			next(r, o)
		}
	}
	if gcfg.Logger == nil {
		gcfg.Logger = cfg.Logger
	}
	if gcfg.Now == nil {
		gcfg.Now = cfg.Now
	}
	if gw.guard, err = guard.New(gcfg); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	gw.setLimits(cfg.Routes.RateLimit)
	gw.proxy = gw.newProxy()
	if err := gw.registerRoutes(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return gw, nil
}

func (c *Config) defaults() {
	if c.MaxPrincipals <= 0 {
		c.MaxPrincipals = DefaultMaxPrincipals
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ResponseHeaderTimeout <= 0 {
		c.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Transport == nil {
		c.Transport = NewTransport(c.DialTimeout, c.ResponseHeaderTimeout)
	}
}

// NewTransport returns the upstream transport the gateway uses by default:
// http.DefaultTransport's settings with the given timeouts and an idle pool
// sized for a busy single upstream.
func NewTransport(dial, responseHeader time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = responseHeader
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 512
	return t
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (gw *Gateway) setLimits(rl *RateLimit) {
	perSecond, burst := float64(DefaultRatePerSecond), DefaultBurst
	if rl != nil {
		if rl.PerSecond != 0 {
			perSecond = rl.PerSecond
		}
		if rl.Burst > 0 {
			burst = rl.Burst
		}
	}
	if perSecond < 0 {
		return // disabled
	}
	gw.tokens = newLimiter(perSecond, burst, gw.cfg.MaxPrincipals)
	gw.keys = newLimiter(perSecond, burst, gw.cfg.MaxPrincipals)
}

// registerRoutes adds a handler per route, and the unmatched handler.
func (gw *Gateway) registerRoutes() error {
	for _, rt := range gw.cfg.Routes.Routes {
		check := gw.guard.Compile(guard.Requirement{Scopes: rt.Scopes, Permissions: rt.Permissions})
		if err := register(gw.mux, rt.Pattern(), gw.route(rt.Pattern(), check)); err != nil {
			return err
		}
	}
	var unmatched http.Handler = http.HandlerFunc(gw.notFound)
	if gw.cfg.Routes.PassThrough {
		unmatched = gw.route(routeUnmatched, gw.guard.Compile(guard.Requirement{}))
	}
	return register(gw.mux, "/", unmatched)
}

// ServeHTTP routes r.
func (gw *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gw.mux.ServeHTTP(w, r)
}

const routeUnmatched = "unmatched"

// route returns the handler of one route: guard, rate limit, proxy, metrics.
func (gw *Gateway) route(label string, check *guard.Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := gw.cfg.Now()
		sw := &statusWriter{ResponseWriter: w}
		var o guard.Outcome
		// Deferred, so an answer aborted mid-stream is counted too.
		defer func() { gw.metrics.observe(label, credLabel(o.Kind), sw.code(), gw.cfg.Now().Sub(start)) }()
		r2, o, ok := gw.guard.Admit(sw, r, check)
		if ok {
			p, _ := guard.PrincipalFrom(r2.Context())
			if wait, limited := gw.limited(&p, start); limited {
				gw.metrics.rateLimited.WithLabelValues(label, credLabel(o.Kind)).Inc()
				sw.Header().Set("Retry-After", retryAfter(wait))
				writeProblem(sw, http.StatusTooManyRequests, "Too Many Requests",
					"The rate limit of this client or key is exceeded; retry after the time in Retry-After.")
			} else {
				if p.Kind == guard.KindToken && gw.cfg.TokenUsage != nil {
					gw.cfg.TokenUsage.RecordToken(p.Tenant, p.ClientID, start)
				}
				gw.proxy.ServeHTTP(sw, r2)
			}
		}
	})
}

// limited takes a token from the principal's bucket.
func (gw *Gateway) limited(p *guard.Principal, now time.Time) (time.Duration, bool) {
	if gw.tokens == nil {
		return 0, false
	}
	l, id := gw.tokens, p.ClientID
	if p.Kind == guard.KindAPIKey {
		l, id = gw.keys, p.KeyID
	}
	ok, wait := l.allow(id, now)
	return wait, !ok
}

// retryAfter renders a wait as Retry-After delay-seconds, rounded up.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return fmt.Sprint(max(s, 1))
}

func (gw *Gateway) notFound(w http.ResponseWriter, r *http.Request) {
	start := gw.cfg.Now()
	writeProblem(w, http.StatusNotFound, "Not Found", "No route of this gateway matches "+r.Method+" "+sanitize(r.URL.Path)+".")
	gw.metrics.observe(routeUnmatched, "none", http.StatusNotFound, gw.cfg.Now().Sub(start))
}

// sanitize bounds a path echoed in a problem.
func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

func credLabel(k guard.Kind) string {
	if k == "" {
		return "none"
	}
	return string(k)
}
