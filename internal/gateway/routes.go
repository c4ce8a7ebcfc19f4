package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Routes is a gateway routes file (DESIGN.md):
//
//	upstream: http://127.0.0.1:9000
//	routes:
//	  - {method: GET,  path: "/api/invoices/{id...}", scopes: [core.invoice.read],  permissions: ["invoices:read"]}
//	  - {method: POST, path: "/api/invoices",         scopes: [core.invoice.write], permissions: ["invoices:create"]}
//
// Paths use Go net/http pattern syntax. A token needs every listed scope; a
// key needs every listed permission (or to be an all-APIs key).
type Routes struct {
	// Upstream is the base URL requests are forwarded to.
	Upstream string `yaml:"upstream"`
	// PassThrough forwards requests matching no route to the upstream,
	// with any valid credential, instead of answering 404.
	PassThrough bool `yaml:"pass_through"`
	// RateLimit overrides the per-principal rate limit.
	RateLimit *RateLimit `yaml:"rate_limit"`
	Routes    []Route    `yaml:"routes"`
}

// RateLimit is a token bucket per principal (OAuth client or API key).
type RateLimit struct {
	// PerSecond is the sustained rate; default 25. Negative disables the
	// limit.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket size; default 20.
	Burst int `yaml:"burst"`
}

// Route maps requests to what their credential needs.
type Route struct {
	// Method is an HTTP method; empty matches every method.
	Method string `yaml:"method"`
	// Path is a net/http pattern path, e.g. "/api/invoices/{id}".
	Path        string   `yaml:"path"`
	Scopes      []string `yaml:"scopes"`
	Permissions []string `yaml:"permissions"`
}

// Pattern returns the route's net/http pattern, e.g. "GET /api/invoices".
func (r Route) Pattern() string {
	if r.Method == "" {
		return r.Path
	}
	return r.Method + " " + r.Path
}

// LoadRoutes reads and validates a routes file.
func LoadRoutes(path string) (*Routes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	rs, err := ParseRoutes(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("routes %s: %w", path, err)
	}
	return rs, nil
}

// ParseRoutes reads and validates routes YAML. Unknown fields are errors,
// so a typo ("scope:") cannot silently open a route.
func ParseRoutes(r io.Reader) (*Routes, error) {
	dec := yaml.NewDecoder(io.LimitReader(r, 4<<20))
	dec.KnownFields(true)
	var rs Routes
	if err := dec.Decode(&rs); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty routes file")
		}
		return nil, fmt.Errorf("parse routes: %w", err)
	}
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	return &rs, nil
}

// Validate checks the upstream URL and every route; it does not check that
// patterns are free of conflicts, which New does.
func (rs *Routes) Validate() error {
	var errs []error
	if rs.Upstream != "" {
		if _, err := parseUpstream(rs.Upstream); err != nil {
			errs = append(errs, err)
		}
	}
	if rs.RateLimit != nil && rs.RateLimit.Burst < 0 {
		errs = append(errs, errors.New("rate_limit.burst must not be negative"))
	}
	for i, rt := range rs.Routes {
		if err := rt.validate(); err != nil {
			errs = append(errs, fmt.Errorf("route %d (%s): %w", i+1, rt.Pattern(), err))
		}
	}
	return errors.Join(errs...)
}

func (rt Route) validate() error {
	if rt.Method != "" && !isToken(rt.Method) {
		return fmt.Errorf("method %q is not an HTTP method", rt.Method)
	}
	if !strings.HasPrefix(rt.Path, "/") || strings.ContainsAny(rt.Path, " \t\r\n") {
		return fmt.Errorf("path %q must start with / and contain no spaces", rt.Path)
	}
	for _, s := range append(append([]string{}, rt.Scopes...), rt.Permissions...) {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return fmt.Errorf("scope or permission %q is empty or has spaces or quotes", s)
		}
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token (methods are tokens).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream %q must be an http(s) URL without query or fragment", s)
	}
	return u, nil
}

// register adds h under the route's pattern, turning ServeMux's panic on a
// malformed or conflicting pattern into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("route %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}
