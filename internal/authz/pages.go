package authz

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/webcookie"
)

// The pages people see (login, consent, device code, logout, errors) are
// server-rendered with html/template from embedded files: no script at all,
// one stylesheet, readable without JavaScript.

//go:embed pages/*.html pages/pages.css
var pageFiles embed.FS

// PathPagesCSS serves the pages' stylesheet.
const PathPagesCSS = "/oauth2/assets/pages.css"

// pageTemplates holds one template set per page, each with the layout.
type pageTemplates map[string]*template.Template

func loadPageTemplates() (pageTemplates, error) {
	out := pageTemplates{}
	for _, name := range []string{"login", "consent", "message", "logout", "device"} {
		file := "pages/" + name + ".html"
		if _, err := pageFiles.Open(file); err != nil {
			continue // a page of a flow not built in
		}
		t, err := template.ParseFS(pageFiles, "pages/layout.html", file)
		if err != nil {
			return nil, fmt.Errorf("page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// pageData is what every page shows; a page's own data goes in the rest.
type pageData struct {
	Title  string
	Error  string
	Notice string
	CSRF   string

	// login
	ClientName string
	AskTenant  bool
	Tenant     string
	Login      string
	Return     string

	// consent, logout, device
	UserName string
	Scopes   []scopeView
	Hidden   []hiddenField
	Action   string
	UserCode string

	// message
	Message  string
	LinkURL  string
	LinkText string
}

type scopeView struct{ Name, Description string }

type hiddenField struct{ Name, Value string }

// pageSecurityHeaders keeps the pages out of frames (clickjacking on the
// consent page is the classic attack), caches and referrers, and allows
// nothing but the one stylesheet.
func pageSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// renderPage writes a page; status is the HTTP status (200 for forms, 4xx
// for errors shown to the person).
func (s *Server) renderPage(w http.ResponseWriter, status int, name string, d *pageData) {
	t := s.pages[name]
	var buf bytes.Buffer
	if t == nil {
		s.log.Error("page template missing", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	pageSecurityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// showError renders an error page for a request that cannot be redirected.
func (s *Server) showError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	s.renderPage(w, status, "message", &pageData{
		Title:   "This request cannot be completed",
		Error:   desc,
		Message: "Error code: " + code + ". Go back to the application and try again, or contact its developer.",
	})
}

func (s *Server) handlePagesCSS(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	css, err := pageFiles.ReadFile("pages/pages.css")
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(css)
}

// Cookies of the pages. The __Host- prefix (RFC 6265bis §4.1.3.2) pins a
// cookie to this host and path "/" so a sibling subdomain cannot plant one;
// browsers accept it only with Secure, so plain-http issuers (development)
// use the bare names.
const (
	sessionCookieName = "keyshift_session"
	csrfCookieName    = "keyshift_csrf"
)

func (s *Server) cookieName(base string) string { return s.jar().Name(base) }

func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	s.jar().Set(w, base, value, maxAge)
}

func (s *Server) cookieValue(r *http.Request, base string) string { return s.jar().Get(r, base, 128) }

func (s *Server) jar() webcookie.Jar { return webcookie.Jar{Secure: s.secureCookies} }

// csrfToken returns the CSRF token for the request's browser, setting the
// CSRF cookie when it has none. The token is an HMAC of the cookie under
// the server's page key (signed double-submit): a cross-site form cannot
// read the cookie, and a planted cookie is useless without the key.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := s.cookieValue(r, csrfCookieName)
	if v == "" {
		v = rand.Text()
		s.setCookie(w, csrfCookieName, v, 0)
		// Later reads in this request see the new cookie.
		r.AddCookie(&http.Cookie{Name: s.cookieName(csrfCookieName), Value: v})
	}
	return s.csrfFor(v)
}

func (s *Server) csrfFor(cookie string) string {
	m := hmac.New(sha256.New, s.pageKey)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether a posted form carries the token of the
// request's CSRF cookie.
func (s *Server) checkCSRF(r *http.Request, f form) bool {
	cookie := s.cookieValue(r, csrfCookieName)
	got := f.get("csrf_token")
	if cookie == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(got), []byte(s.csrfFor(cookie)))
}

// readPageForm reads a form posted by one of the pages: POST, form content
// type, bounded body, strict parsing. Errors are shown as a page.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request) (form, bool) {
	f, e := readForm(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		status := e.Status
		if status == 0 || status == http.StatusUnauthorized {
			status = http.StatusBadRequest
		}
		s.showError(w, status, e.Code, e.Description)
		return nil, false
	}
	return f, true
}

// safeReturn reports whether a return path after login is one of ours:
// relative, on this server, to a page that continues a flow.
func safeReturn(p string) bool {
	if p == "" || len(p) > maxAuthorizeQuery || !strings.HasPrefix(p, "/") ||
		strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return false
	}
	path, _, _ := strings.Cut(p, "?")
	switch {
	case path == oauth.PathAuthorize, path == oauth.PathDevice, strings.HasPrefix(path, "/console/"), path == "/console":
		return true
	}
	return false
}
