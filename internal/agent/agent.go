// Package agent is the token sidecar behind `keyshift agent`: it keeps an
// integration's access token fresh, writes it atomically to a file for tools
// that read one, and serves a local reverse proxy that adds
// "Authorization: Bearer" to every request for the configured API and strips
// the legacy API key header, so an integration migrates by changing its base
// URL only.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyshift/keyshift/tokensource"
)

// Paths the agent answers itself; every other path goes to the API.
const (
	HealthPath  = "/-/agent/health"
	MetricsPath = "/-/agent/metrics"
)

// DefaultLegacyHeader is the legacy API key header stripped by default.
const DefaultLegacyHeader = "X-API-Key"

// DefaultReplayBodyLimit is the largest proxied request body kept in memory
// so that the request can be sent again with a new token after a 401.
const DefaultReplayBodyLimit = 1 << 20

// Config configures an Agent.
type Config struct {
	// Token configures the token source; OnEvent is wrapped, not replaced.
	Token tokensource.Config
	// Upstream is the API's base URL; requests to the agent's own base URL
	// are sent there with their path appended. Empty disables the proxy
	// (token file only).
	Upstream string
	// TokenFile, when set, receives the current access token (no newline),
	// replaced atomically, mode 0600.
	TokenFile string
	// StripHeaders are removed from proxied requests: the legacy key header
	// (default X-API-Key) and anything else the old integration sent.
	StripHeaders []string
	// CheckEvery is how often the agent asks the token source for the
	// current token, so a refresh happens even when no request comes;
	// default 30 s.
	CheckEvery time.Duration
	// ReplayBodyLimit is the largest request body (of known length) the
	// proxy buffers so that, when the API answers 401 (a revoked token), it
	// drops the token, mints one and sends the request again; default
	// DefaultReplayBodyLimit, negative buffers none. A larger or streaming
	// request gets the 401, and the next one a new token.
	ReplayBodyLimit int64
	// Transport does the proxied requests; default http.DefaultTransport.
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Registerer receives the agent's metrics; default a registry of its own
	// served on MetricsPath.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Agent is a running sidecar. Create it with New, start it with Run.
type Agent struct {
	cfg      Config
	source   *tokensource.Source
	upstream *url.URL
	metrics  *metrics
	handler  http.Handler

	// minted is signalled when the source got a new token, so that Run
	// writes the token file at once rather than at its next check.
	minted chan struct{}

	mu      sync.Mutex
	written string // token last written to TokenFile
}

// New checks the configuration and builds the agent; it does no I/O.
func New(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 30 * time.Second
	}
	switch {
	case cfg.ReplayBodyLimit == 0:
		cfg.ReplayBodyLimit = DefaultReplayBodyLimit
	case cfg.ReplayBodyLimit < 0:
		cfg.ReplayBodyLimit = 0
	}
	if cfg.StripHeaders == nil {
		cfg.StripHeaders = []string{DefaultLegacyHeader}
	}
	if cfg.Registerer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = reg, reg
	}
	a := &Agent{cfg: cfg, metrics: newMetrics(cfg.Registerer), minted: make(chan struct{}, 1)}
	if cfg.Upstream != "" {
		u, err := url.Parse(cfg.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("agent: upstream %q is not an http(s) URL", cfg.Upstream)
		}
		a.upstream = u
	}
	if cfg.Upstream == "" && cfg.TokenFile == "" {
		return nil, errors.New("agent: nothing to do: set an upstream API, a token file or both")
	}
	tc := cfg.Token
	inner := tc.OnEvent
	tc.OnEvent = func(e tokensource.Event) {
		a.metrics.observe(e)
		if e.Type == tokensource.EventMinted || e.Type == tokensource.EventCacheHit {
			select {
			case a.minted <- struct{}{}:
			default: // a write is already due
			}
		}
		if inner != nil {
			inner(e)
		}
	}
	if tc.Logger == nil {
		tc.Logger = cfg.Logger
	}
	src, err := tokensource.New(tc)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.source = src
	a.handler = a.routes()
	return a, nil
}

// Source is the agent's token source.
func (a *Agent) Source() *tokensource.Source { return a.source }

// Handler serves the proxy, HealthPath and MetricsPath.
func (a *Agent) Handler() http.Handler { return a.handler }

func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, a.serveHealth)
	gatherer := a.cfg.Gatherer
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	if a.upstream != nil {
		mux.Handle("/", a.proxy())
	}
	return mux
}

// proxy forwards to the upstream with the token added by
// tokensource.Transport, which also re-mints once on a 401 and sends the
// request again when its body was small enough to buffer.
func (a *Agent) proxy() http.Handler {
	strip := a.cfg.StripHeaders
	p := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(a.upstream)
			for _, h := range strip {
				r.Out.Header.Del(h)
			}
			// The integration's own credentials never reach the API.
			r.Out.Header.Del("Authorization")
		},
		Transport: &tokensource.Transport{Source: a.source, Base: a.cfg.Transport, ReplayBodyLimit: a.cfg.ReplayBodyLimit},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.cfg.Logger.Warn("agent: proxied request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "agent_upstream_failed", "error_description": err.Error()})
		},
		ModifyResponse: func(resp *http.Response) error {
			a.metrics.proxied.WithLabelValues(statusClass(resp.StatusCode)).Inc()
			return nil
		},
	}
	return p
}

func statusClass(code int) string { return fmt.Sprintf("%dxx", code/100) }

// Run refreshes the token (and token file) and serves on ln until ctx ends.
func (a *Agent) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.cfg.Logger.Info("agent: listening", "addr", ln.Addr().String(), "upstream", a.cfg.Upstream, "token_file", a.cfg.TokenFile)
	a.Refresh(ctx)
	t := time.NewTicker(a.cfg.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			return nil
		case err := <-errc:
			return fmt.Errorf("agent: serve: %w", err)
		case <-t.C:
			a.Refresh(ctx)
		case <-a.minted:
			// A new token (e.g. re-minted after a 401): tools reading the
			// file must not keep the refused one until the next check.
			a.Refresh(ctx)
		}
	}
}

// Refresh asks the token source for the current token (which refreshes it
// when due) and writes a changed token to the token file.
func (a *Agent) Refresh(ctx context.Context) {
	tok, err := a.source.Current(ctx)
	if err != nil {
		a.cfg.Logger.Warn("agent: no valid token", "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.metrics.expiry.Set(float64(tok.Expiry.Unix()))
	if a.cfg.TokenFile == "" || tok.AccessToken == a.written {
		return
	}
	if err := tokensource.WriteFileAtomic(a.cfg.TokenFile, []byte(tok.AccessToken)); err != nil {
		a.cfg.Logger.Error("agent: could not write the token file", "path", a.cfg.TokenFile, "err", err)
		return
	}
	a.written = tok.AccessToken
	a.metrics.fileWrites.Inc()
	a.cfg.Logger.Info("agent: token file updated", "path", a.cfg.TokenFile, "expiry", tok.Expiry, "refresh_at", tok.RefreshAt)
}

// health is the answer of HealthPath.
type health struct {
	Status    string    `json:"status"`
	Expiry    time.Time `json:"expiry,omitzero"`
	RefreshAt time.Time `json:"refresh_at,omitzero"`
	Scopes    []string  `json:"scopes,omitempty"`
	Error     string    `json:"error,omitempty"`
	Fix       string    `json:"fix,omitempty"`
}

// serveHealth answers 200 while the agent holds a valid token, else 503
// with the reason and its fix.
func (a *Agent) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	tok, err := a.source.Current(ctx)
	if err != nil {
		h := health{Status: "unhealthy", Error: err.Error()}
		var te *tokensource.Error
		if errors.As(err, &te) {
			h.Fix = te.Fix()
		}
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	if a.cfg.TokenFile != "" && !a.fileWritten() {
		// Healthy means tools can read the token too: write it now rather
		// than wait for the refresh loop.
		a.Refresh(ctx)
		if !a.fileWritten() {
			writeJSON(w, http.StatusServiceUnavailable, health{Status: "unhealthy", Error: "the token file could not be written",
				Fix: "check that the agent may write " + a.cfg.TokenFile})
			return
		}
	}
	writeJSON(w, http.StatusOK, health{Status: "ok", Expiry: tok.Expiry, RefreshAt: tok.RefreshAt, Scopes: tok.Scopes})
}

func (a *Agent) fileWritten() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.written != ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NormalizeHeaders canonicalises header names given on a command line.
func NormalizeHeaders(hs []string) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, http.CanonicalHeaderKey(h))
		}
	}
	return out
}
