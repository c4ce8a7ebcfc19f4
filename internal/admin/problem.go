package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/keyshift/keyshift/internal/store"
)

// ProblemContentType is the media type of RFC 9457 problem details.
const ProblemContentType = "application/problem+json"

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem detail. Operations return it for every
// failure a caller can act on; it is both the Go error and the HTTP body.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`

	challenge  string // WWW-Authenticate value of a 401
	retryAfter int    // Retry-After seconds of a 503; 0 = none
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%s (%d)", p.Title, p.Status)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, fe := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", fe.Field, fe.Message)
	}
	return msg
}

// problemTypeBase prefixes problem type URIs; they identify the problem kind
// and are not meant to be dereferenced.
const problemTypeBase = "urn:keyshift:problem:"

func newProblem(status int, kind, title, detail string) *Problem {
	return &Problem{Type: problemTypeBase + kind, Title: title, Status: status, Detail: detail}
}

func errNotFound(what string) *Problem {
	return newProblem(http.StatusNotFound, "not-found", "Not found", what+" not found")
}

func errForbidden(detail string) *Problem {
	return newProblem(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

func errConflict(title, detail string) *Problem {
	return newProblem(http.StatusConflict, "conflict", title, detail)
}

func errBadRequest(detail string) *Problem {
	return newProblem(http.StatusBadRequest, "bad-request", "Bad request", detail)
}

// errLoginTaken is the answer to a duplicate contact login, worded as the
// reference platform words it.
func errLoginTaken() *Problem {
	p := errConflict("Login has already been taken", "another client of this tenant has the same contact login")
	p.Errors = []FieldError{{Field: "contact.login", Message: "has already been taken"}}
	return p
}

// validation collects field errors of one request.
type validation []FieldError

func (v *validation) add(field, msg string) { *v = append(*v, FieldError{Field: field, Message: msg}) }

// err returns the collected errors as one 400 problem, or nil.
func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	p := newProblem(http.StatusBadRequest, "validation", "Invalid request", "one or more fields are invalid")
	p.Errors = v
	return p
}

// unavailableRetryAfter is the Retry-After, in seconds, of the 503 answered
// while the store is unreachable: long enough not to hammer a recovering
// database, short enough for a scripted retry to succeed soon after.
const unavailableRetryAfter = 5

// toProblem maps any error of an operation onto the problem to answer.
// Unknown errors become a generic 500 and are logged, never shown.
func (a *API) toProblem(ctx context.Context, r *http.Request, err error) *Problem {
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("object")
	case errors.Is(err, store.ErrAlreadyExists):
		return errConflict("Already exists", "an object with this identifier already exists")
	case errors.Is(err, store.ErrConflict):
		return errConflict("Conflict", "the change conflicts with an existing object")
	case errors.Is(err, store.ErrUnavailable):
		a.log.WarnContext(ctx, "admin: store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		detail := "the database cannot be reached; the change was not made, retry later"
		if errors.Is(err, store.ErrOutcomeUnknown) {
			detail = "the database stopped answering while the change was committed; it may have been made: check before retrying"
		}
		p := newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", detail)
		p.retryAfter = unavailableRetryAfter
		return p
	case errors.Is(err, context.Canceled):
		return newProblem(499, "canceled", "Request canceled", "")
	default:
		a.log.ErrorContext(ctx, "admin: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		return newProblem(http.StatusInternalServerError, "internal", "Internal server error", "the request could not be completed; see the server log")
	}
}

// writeProblem is the one place problem responses are written.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.challenge != "" {
		h.Set("WWW-Authenticate", p.challenge)
	}
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p) // the client may be gone; nothing else to do
}

// writeJSON writes a successful JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store") // answers may carry secrets
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
