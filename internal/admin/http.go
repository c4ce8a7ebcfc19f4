package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/oauth"
)

// handlerFunc is an admin handler: it gets the authenticated principal and
// returns an error that the wrapper turns into a problem response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p Principal) error

// Register adds every admin route, under /admin/v1/, to mux.
func (a *API) Register(mux *http.ServeMux) {
	routes := []struct {
		pattern string
		h       handlerFunc
	}{
		{"POST /admin/v1/tenants", a.handleCreateTenant},
		{"GET /admin/v1/tenants", a.handleListTenants},
		{"GET /admin/v1/tenants/{tenant}", a.handleGetTenant},
		{"PATCH /admin/v1/tenants/{tenant}", a.handleUpdateTenant},
		{"DELETE /admin/v1/tenants/{tenant}", a.handleDeleteTenant},

		{"GET /admin/v1/scopes", a.handleListScopes},
		{"PUT /admin/v1/scopes/{name}", a.handlePutScope},

		{"POST /admin/v1/tenants/{tenant}/clients", a.handleCreateClient},
		{"GET /admin/v1/tenants/{tenant}/clients", a.handleListClients},
		{"GET /admin/v1/tenants/{tenant}/clients/{client_id}", a.handleGetClient},
		{"PATCH /admin/v1/tenants/{tenant}/clients/{client_id}", a.handleUpdateClient},
		{"DELETE /admin/v1/tenants/{tenant}/clients/{client_id}", a.handleDeleteClient},
		{"POST /admin/v1/tenants/{tenant}/clients/{client_id}/secrets", a.handleRotateSecret},

		{"POST /admin/v1/tenants/{tenant}/keys", a.handleCreateKey},
		{"GET /admin/v1/tenants/{tenant}/keys", a.handleListKeys},
		{"POST /admin/v1/tenants/{tenant}/keys/import", a.handleImportKeys},
		{"GET /admin/v1/tenants/{tenant}/keys/{id}", a.handleGetKey},
		{"PATCH /admin/v1/tenants/{tenant}/keys/{id}", a.handleUpdateKey},
		{"POST /admin/v1/tenants/{tenant}/keys/{id}/convert", a.handleConvertKey},

		{"POST /admin/v1/tenants/{tenant}/users", a.handleCreateUser},
		{"GET /admin/v1/tenants/{tenant}/users", a.handleListUsers},
		{"GET /admin/v1/tenants/{tenant}/users/{id}", a.handleGetUser},
		{"PATCH /admin/v1/tenants/{tenant}/users/{id}", a.handleUpdateUser},
		{"DELETE /admin/v1/tenants/{tenant}/users/{id}", a.handleDeleteUser},
		{"POST /admin/v1/tenants/{tenant}/users/{id}/password", a.handleSetUserPassword},

		{"PUT /admin/v1/tenants/{tenant}/webhook", a.handlePutWebhook},
		{"GET /admin/v1/tenants/{tenant}/webhook", a.handleGetWebhook},
		{"DELETE /admin/v1/tenants/{tenant}/webhook", a.handleDeleteWebhook},
		{"POST /admin/v1/tenants/{tenant}/webhook/test", a.handleTestWebhook},

		{"GET /admin/v1/timeline", a.handleGetTimeline},
		{"PUT /admin/v1/timeline", a.handlePutTimeline},
		{"GET /admin/v1/migration", a.handleMigration},
		{"GET /admin/v1/traffic", a.handleTraffic},
		{"GET /admin/v1/tenants/{tenant}/traffic", a.handleTenantTraffic},

		{"GET /admin/v1/signing-keys", a.handleListSigningKeys},
		{"POST /admin/v1/signing-keys/rotate", a.handleRotateSigningKeys},

		{"GET /admin/v1/audit", a.handleListAudit},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, a.wrap(rt.h))
	}
	// Anything else under the prefix answers with a problem, not the mux's
	// plain text, so clients can always parse admin errors.
	mux.Handle("/admin/v1/", a.wrap(func(w http.ResponseWriter, r *http.Request, _ Principal) error {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
				r.Method+" is not allowed here")
		}
		return errNotFound("resource")
	}))
}

// allowedMethods lists the methods with an admin route for r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/admin/v1/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// wrap authenticates the request, runs h and writes any error as a problem.
func (a *API) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				a.log.ErrorContext(r.Context(), "admin: panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeProblem(w, newProblem(http.StatusInternalServerError, "internal", "Internal server error", "the request could not be completed; see the server log"))
			}
		}()
		p, prob := a.authenticate(r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		if !p.IsOperator() && !p.IsTenantAdmin() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="keyshift", error="`+oauth.CodeInsufficientScope+`", scope="`+oauth.ScopeAdmin+" "+oauth.ScopeTenantAdmin+`"`)
			writeProblem(w, errForbidden("the token has neither keyshift:admin nor keyshift:tenant-admin"))
			return
		}
		if err := h(w, r, p); err != nil {
			writeProblem(w, a.toProblem(r.Context(), r, err))
		}
	})
}

// authenticate checks the bearer token (RFC 6750 §2.1).
func (a *API) authenticate(r *http.Request) (Principal, *Problem) {
	const challenge = `Bearer realm="keyshift"`
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		p := newProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "a bearer token is required")
		return Principal{}, withChallenge(p, challenge)
	}
	p, err := a.auth.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		// The reason stays in the log: telling a caller why a token failed
		// helps an attacker more than an integrator.
		a.log.InfoContext(r.Context(), "admin: token rejected", "remote", clientip.From(r), "err", err)
		prob := newProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "the bearer token is invalid, expired or revoked")
		return Principal{}, withChallenge(prob, challenge+`, error="`+oauth.CodeInvalidToken+`"`)
	}
	p.RemoteAddr = clientip.From(r)
	return p, nil
}

// withChallenge attaches the WWW-Authenticate value writeProblem sends.
func withChallenge(p *Problem, challenge string) *Problem {
	p.challenge = challenge
	return p
}

// decodeJSON reads a JSON request body into v: application/json only, no
// unknown fields, one value, at most maxBody bytes. An empty body is allowed
// only when allowEmpty is set (v keeps its zero value).
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large",
				fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
		}
		return errBadRequest("the request body could not be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if allowEmpty {
			return nil
		}
		return errBadRequest("a JSON request body is required")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"the request body must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest(jsonErrorDetail(err))
	}
	if dec.More() {
		return errBadRequest("the body must hold a single JSON object")
	}
	return nil
}

// jsonErrorDetail describes a decoding error without echoing the body, which
// could hold a secret.
func jsonErrorDetail(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a JSON %s", typ.Field, typ.Type.Kind())
		}
		return fmt.Sprintf("the body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	default:
		return "invalid value in the JSON body (times are RFC 3339)"
	}
}
