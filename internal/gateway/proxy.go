package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"

	"github.com/keyshift/keyshift/guard"
)

// newProxy returns the reverse proxy to the upstream. Requests and answers
// stream through; upstream failures become problem JSON.
func (gw *Gateway) newProxy() *httputil.ReverseProxy {
	keyHeader := textproto.CanonicalMIMEHeaderKey(gw.keyHeader)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(gw.upstream)
			pr.SetXForwarded()
			h := pr.Out.Header
			for name := range h {
				// Case-insensitively: a header map set by hand may hold
				// non-canonical names.
				if len(name) >= len(IdentityHeaderPrefix) && strings.EqualFold(name[:len(IdentityHeaderPrefix)], IdentityHeaderPrefix) {
					delete(h, name)
				}
			}
			if !gw.cfg.ForwardCredentials {
				h.Del("Authorization")
				h.Del(keyHeader)
			}
			if p, ok := guard.PrincipalFrom(pr.In.Context()); ok {
				setIdentity(h, &p)
			}
		},
		Transport:     gw.cfg.Transport,
		FlushInterval: gw.cfg.FlushInterval,
		ErrorHandler:  gw.upstreamError,
		ErrorLog:      slog.NewLogLogger(gw.log.Handler(), slog.LevelWarn),
	}
}

// setIdentity adds the principal's identity headers.
func setIdentity(h http.Header, p *guard.Principal) {
	h[HeaderCredential] = []string{string(p.Kind)}
	h[HeaderTenant] = []string{p.Tenant}
	h[HeaderScopes] = []string{strings.Join(p.Scopes, " ")}
	h[HeaderSubject] = []string{p.Subject}
	if p.Kind == guard.KindAPIKey {
		h[HeaderKeyID] = []string{p.KeyID}
		perms := "*" // a key without permissions may use every API
		if len(p.Permissions) > 0 {
			perms = strings.Join(p.Permissions, " ")
		}
		h[HeaderPermissions] = []string{perms}
	} else {
		h[HeaderClient] = []string{p.ClientID}
	}
}

// upstreamError answers a failed upstream exchange: 504 when the upstream
// did not answer in time, 502 otherwise; nothing when the client left.
func (gw *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		if sw, ok := w.(*statusWriter); ok && sw.status == 0 {
			sw.status = statusClientClosed
		}
		return
	}
	route := r.Pattern
	gw.metrics.upstreamErrors.WithLabelValues(cmpOr(route, routeUnmatched)).Inc()
	gw.log.Warn("gateway: upstream request failed", "route", route, "method", r.Method, "err", err)
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		writeProblem(w, http.StatusGatewayTimeout, "Gateway Timeout", "The upstream API did not answer in time.")
		return
	}
	writeProblem(w, http.StatusBadGateway, "Bad Gateway", "The upstream API could not be reached or failed to answer.")
}

// statusClientClosed is recorded (never sent) for requests whose client
// went away before the answer, as nginx's 499.
const statusClientClosed = 499

// writeProblem writes an RFC 9457 problem.
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	body, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", title, status, detail})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// statusWriter records the status of an answer. It unwraps for
// http.ResponseController, so flushing (streaming) reaches the server's
// writer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first final status.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets ReverseProxy flush through the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
