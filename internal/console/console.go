// Package console is keyshift's web console for tenant admins and platform
// operators: server-rendered html/template pages with embedded assets and
// server-drawn SVG charts, usable without JavaScript.
//
// The console is an OAuth client of keyshift itself (authorization code +
// PKCE against the built-in provider). After sign-in it keeps a server-side
// session and, on every request, derives the person's rights from their
// live user record, then calls the same admin.API methods as the admin
// HTTP API with that principal, so validation, tenant isolation and audit
// are the admin API's own. The console has no store of its own: its
// sessions, reports and charts' data come from admin.API too.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// IDTokenVerifier checks the signature and typ of keyshift's own JWTs
// (*signing.Keyring implements it).
type IDTokenVerifier interface {
	Verify(token, wantTyp string) (payload []byte, kid string, err error)
}

// CredentialsTester runs the checks of `keyshift credentials test` for a
// client id and secret and reports them step by step.
type CredentialsTester interface {
	TestCredentials(ctx context.Context, clientID, secret, scope string) []CheckResult
}

// CheckResult is one step of a credentials test: Status is ok, fail or
// skip; Fix says what to do about a failure.
type CheckResult struct {
	Name, Status, Detail, Fix string
}

// Config configures the console.
type Config struct {
	// Issuer is keyshift's public base URL; the console lives under
	// Issuer + "/console/".
	Issuer string
	// Key (32 bytes or more) keys the console's cookies and CSRF tokens;
	// derived from the master secret so every instance agrees.
	Key []byte
	// OAuth serves keyshift's own protocol endpoints in process: the
	// console redeems its codes there without a network round trip.
	OAuth http.Handler
	// Tokens verifies the ID tokens the console receives.
	Tokens IDTokenVerifier
	// Credentials runs "test these credentials"; nil hides the action.
	Credentials CredentialsTester
	// SessionTTL bounds a console session; default 8 h.
	SessionTTL time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
}

// Console serves /console/.
type Console struct {
	cfg     Config
	api     *admin.API
	log     *slog.Logger
	pages   map[string]*template.Template
	secure  bool
	secrets consoleKeys
	mux     *http.ServeMux
}

type consoleKeys struct{ csrf, flow []byte }

// New returns the console.
func New(cfg Config, api *admin.API) (*Console, error) {
	if cfg.Issuer == "" || cfg.OAuth == nil || cfg.Tokens == nil || api == nil {
		return nil, errors.New("console: issuer, OAuth handler, token verifier and admin API are required")
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("console: key must be at least 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Console{
		cfg: cfg, api: api, log: cfg.Logger,
		secure:  strings.HasPrefix(cfg.Issuer, "https://"),
		secrets: consoleKeys{csrf: derive(cfg.Key, "console csrf v1"), flow: derive(cfg.Key, "console sign-in flow v1")},
	}
	pages, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	c.mux = http.NewServeMux()
	c.routes()
	return c, nil
}

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Register adds the console to mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle("/console/", c)
	mux.Handle("/console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

// securityHeaders: no framing, no caching of admin pages, only our own
// stylesheet and script.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// handler is a console page handler for a signed-in person.
type handler func(w http.ResponseWriter, r *http.Request, v *visit) error

// visit is one request of a signed-in person.
type visit struct {
	user      store.User
	principal admin.Principal
	session   store.Session
	csrf      string
}

func (v *visit) operator() bool { return v.principal.IsOperator() }

// page wraps h: it loads the session (or sends the person to sign in),
// checks the rights and the CSRF token of a POST, and renders errors.
func (c *Console) page(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := c.visit(r)
		if err != nil {
			c.log.Log(r.Context(), store.LogLevel(err), "console: load session", "err", err)
			c.renderError(w, r, nil, http.StatusServiceUnavailable, "The console cannot reach its database right now. Try again shortly.")
			return
		}
		if v == nil {
			c.startSignIn(w, r)
			return
		}
		if !v.principal.IsOperator() && !v.principal.IsTenantAdmin() {
			c.renderError(w, r, v, http.StatusForbidden, "Your account has no administration rights. Ask your organisation's keyshift admin for the admin role.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				c.renderError(w, r, v, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !hmac.Equal([]byte(r.PostFormValue("csrf_token")), []byte(v.csrf)) {
				c.renderError(w, r, v, http.StatusForbidden, "This form expired or did not come from the console. Reload the page and try again.")
				return
			}
		}
		if err := h(w, r, v); err != nil {
			c.fail(w, r, v, err)
		}
	})
}

// tenantPage wraps h for pages under /console/t/{tenant}/: the tenant must
// be one the person may see, else 404 (tenant names do not leak).
func (c *Console) tenantPage(h func(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error) http.Handler {
	return c.page(func(w http.ResponseWriter, r *http.Request, v *visit) error {
		tenant := r.PathValue("tenant")
		if _, err := c.api.GetTenant(r.Context(), v.principal, tenant); err != nil {
			return err
		}
		return h(w, r, v, tenant)
	})
}

// fail renders an error from an admin operation or the store.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var p *admin.Problem
	switch {
	case errors.As(err, &p):
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		c.renderError(w, r, v, p.Status, msg)
	case errors.Is(err, store.ErrUnavailable):
		c.log.Warn("console: store unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		c.renderError(w, r, v, http.StatusServiceUnavailable, "The console cannot reach its database right now. Try again shortly.")
	default:
		c.log.Error("console page failed", "path", r.URL.Path, "err", err)
		c.renderError(w, r, v, http.StatusInternalServerError, "Something went wrong. The error has been logged.")
	}
}

func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	sub, _ := fs.Sub(assetFiles, "assets")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.StripPrefix("/console/assets/", http.FileServer(http.FS(sub))).ServeHTTP(w, r)
}

func (c *Console) now() time.Time { return c.cfg.Now().UTC() }

// errorf is a console-level failure with a message for the person.
func errorf(status int, format string, args ...any) error {
	return &admin.Problem{Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}
