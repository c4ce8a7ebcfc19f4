package guard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Error codes of RFC 6750 §3.1 and of refused keys. The RFC 6750 ones
// mirror internal/oauth's, which a public package may not import
// (DESIGN.md).
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
	// CodeInsufficientPermission answers a valid legacy key that lacks a
	// permission the route needs (HTTP 403).
	CodeInsufficientPermission = "insufficient_permission"
	// CodeKeyUnavailable answers a key that could not be checked because
	// the key checker failed (HTTP 503).
	CodeKeyUnavailable = "api_key_unavailable"
)

// ErrNoCredentials is the Error of a request without a bearer token or key.
var ErrNoCredentials = &Error{Status: http.StatusUnauthorized, Description: "a bearer token is required"}

// Error is a refusal of the guard: what status and body the client gets.
// Descriptions never contain the credential.
type Error struct {
	// Status is the HTTP status: 400, 401, 403 or 503.
	Status int
	// Code is the error code; empty when no credentials were presented
	// (RFC 6750 §3.1: no error code then).
	Code string
	// Description is a sentence for the developer; it is sent to clients.
	Description string
	// Scope lists the scopes needed, for insufficient_scope.
	Scope string
	// Permissions lists the permissions needed, for insufficient_permission.
	Permissions []string
	// Key is the key checker's answer for refused keys.
	Key *KeyResult
	// cause is the underlying error, for logs; never sent.
	cause error
}

// Error describes the refusal, with its cause, for logs.
func (e *Error) Error() string {
	msg := e.Code
	if msg == "" {
		msg = "unauthenticated"
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.cause }

func tokenError(desc string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: desc, cause: cause}
}

// asError converts err to an *Error, treating anything else as an invalid
// token.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return tokenError("the access token is invalid", err)
}

// writeError answers a refusal: an RFC 6750 challenge for bearer errors, a
// JSON body for key refusals.
func (g *Guard) writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if e.Key != nil {
		if e.Status == http.StatusUnauthorized {
			// RFC 9110 §15.5.2: a 401 carries a challenge; this one
			// points the key's user to OAuth.
			h.Set("WWW-Authenticate", `Bearer realm="`+g.realm+`"`)
		}
		writeKeyRefusal(w, e)
		return
	}
	h.Set("WWW-Authenticate", g.challenge(e))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	code := e.Code
	if code == "" {
		code = "unauthorized" // the body's only; the challenge has no code
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{code, e.Description, e.Scope})
	_, _ = w.Write(append(body, '\n'))
}

// challenge renders the WWW-Authenticate value of RFC 6750 §3.
func (g *Guard) challenge(e *Error) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(g.realm)
	b.WriteByte('"')
	if e.Code != "" && e.Code != CodeInsufficientPermission {
		b.WriteString(`, error="`)
		b.WriteString(e.Code)
		b.WriteByte('"')
		if e.Description != "" {
			b.WriteString(`, error_description="`)
			b.WriteString(quotable(e.Description))
			b.WriteByte('"')
		}
		if e.Scope != "" {
			b.WriteString(`, scope="`)
			b.WriteString(quotable(e.Scope))
			b.WriteByte('"')
		}
	}
	return b.String()
}

// quotable drops the characters RFC 6750 §3 does not allow in its quoted
// values (", \ and anything outside printable ASCII).
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// writeKeyRefusal answers a refused key: 401 with the decision (DESIGN.md's
// shape), or 403 for a key lacking a permission, and the deprecation
// headers either way.
func writeKeyRefusal(w http.ResponseWriter, e *Error) {
	k := e.Key
	k.setHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	var sunset string
	if !k.Sunset.IsZero() {
		sunset = k.Sunset.UTC().Format(time.RFC3339)
	}
	body, _ := json.Marshal(struct {
		Error       string   `json:"error"`
		Description string   `json:"error_description"`
		Permissions []string `json:"required_permissions,omitempty"`
		Sunset      string   `json:"sunset,omitempty"`
		Guide       string   `json:"migration_guide_url,omitempty"`
	}{e.Code, e.Description, e.Permissions, sunset, k.MigrationGuideURL})
	_, _ = w.Write(append(body, '\n'))
}
