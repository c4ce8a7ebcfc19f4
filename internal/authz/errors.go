package authz

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// challenge is the Basic challenge sent with every invalid_client 401.
const challenge = `Basic realm="keyshift"`

// Error is an OAuth 2.0 protocol error: the RFC 6749 §5.2 error code, a
// human-readable description safe to show the client, and the HTTP status.
// It is the only error type the endpoints write; anything else becomes a
// server_error whose details go to the log only.
type Error struct {
	Code        string
	Description string
	Status      int
	// RetryAfter, when positive, is sent as the Retry-After header (429).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

func errInvalidRequest(desc string) *Error {
	return &Error{Code: oauth.CodeInvalidRequest, Description: desc, Status: http.StatusBadRequest}
}

// errInvalidClient is the one answer to every client authentication failure
// (unknown client, wrong or expired secret, disabled client or tenant, wrong
// method), so a caller cannot tell which it was.
func errInvalidClient() *Error {
	return &Error{Code: oauth.CodeInvalidClient, Description: "client authentication failed", Status: http.StatusUnauthorized}
}

func errInvalidScope(desc string) *Error {
	return &Error{Code: oauth.CodeInvalidScope, Description: desc, Status: http.StatusBadRequest}
}

// errMethodNotAllowed answers a wrong HTTP method on a POST-only endpoint:
// 405 as HTTP requires, with the OAuth body a client library can show.
func errMethodNotAllowed() *Error {
	return &Error{Code: oauth.CodeInvalidRequest, Description: "this endpoint accepts POST only", Status: http.StatusMethodNotAllowed}
}

// errThrottled answers a client id or address over its failed-authentication
// budget. RFC 6749 has no code for this: invalid_client keeps clients that do
// not know 429 treating it as an authentication failure (not a reason to
// retry at once), while 429 with Retry-After (RFC 6585) tells everyone else
// exactly when to come back. slow_down belongs to the device flow (RFC 8628)
// and would confuse client_credentials libraries.
func errThrottled(retry time.Duration) *Error {
	return &Error{
		Code: oauth.CodeInvalidClient, Description: "too many failed attempts; retry later",
		Status: http.StatusTooManyRequests, RetryAfter: retry,
	}
}

// errorBody is the RFC 6749 §5.2 JSON error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError writes err as an RFC 6749 §5.2 response. An error that is not
// an *Error is an internal failure: it is logged and answered server_error
// (or temporarily_unavailable when the store is down) without details.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, store.ErrUnavailable) {
			// An outage of the database, not a bug here: the request was
			// refused and nothing written; the caller is told to retry.
			log.Warn("store unavailable; answered temporarily_unavailable", "err", err)
			e = &Error{Code: oauth.CodeTemporarilyUnavailable, Description: "storage unavailable; retry later", Status: http.StatusServiceUnavailable, RetryAfter: 5 * time.Second}
		} else {
			log.Error("internal error", "err", err)
			e = &Error{Code: oauth.CodeServerError, Description: "internal error", Status: http.StatusInternalServerError}
		}
	}
	h := w.Header()
	if e.Status == http.StatusUnauthorized && e.Code == oauth.CodeInvalidClient {
		// RFC 9110 §15.5.2 requires a challenge on every 401; RFC 6749 §5.2
		// requires it to match Basic when the client used Basic. Basic is our
		// only header scheme, so one challenge is right in both cases.
		h.Set("WWW-Authenticate", challenge)
	}
	if e.Status == http.StatusMethodNotAllowed {
		h.Set("Allow", http.MethodPost)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeJSON(w, e.Status, errorBody{Error: e.Code, Description: sanitizeDescription(e.Description)})
}

// writeJSON writes v with the no-store headers every token-bearing or
// error response of the protocol endpoints carries (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own wire structs reach here; they always marshal.
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// sanitizeDescription keeps error_description within the characters RFC 6749
// §5.2 allows (%x20-21 / %x23-5B / %x5D-7E) and bounds its length, since a
// description may quote request input.
func sanitizeDescription(s string) string {
	const maxLen = 200
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
