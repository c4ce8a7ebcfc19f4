package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		code      string
		challenge bool
		retry     string
		allow     string
	}{
		{"invalid_request", errInvalidRequest("missing grant_type"), 400, oauth.CodeInvalidRequest, false, "", ""},
		{"invalid_client has a challenge", errInvalidClient(), 401, oauth.CodeInvalidClient, true, "", ""},
		{"throttled has Retry-After", errThrottled(1500 * time.Millisecond), 429, oauth.CodeInvalidClient, false, "2", ""},
		{"method not allowed has Allow", errMethodNotAllowed(), 405, oauth.CodeInvalidRequest, false, "", "POST"},
		{"wrapped protocol error", fmt.Errorf("ctx: %w", errInvalidScope("x")), 400, oauth.CodeInvalidScope, false, "", ""},
		{"internal error hides details", errors.New("db password is hunter2"), 500, oauth.CodeServerError, false, "", ""},
		{"store unavailable", fmt.Errorf("load: %w", store.ErrUnavailable), 503, oauth.CodeTemporarilyUnavailable, false, "5", ""},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeError(rec, log, tt.err)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != tt.code {
				t.Fatalf("error %q, want %q", body["error"], tt.code)
			}
			if tt.code == oauth.CodeServerError && body["error_description"] != "internal error" {
				t.Fatalf("internal details leaked: %q", body["error_description"])
			}
			h := rec.Header()
			if (h.Get("WWW-Authenticate") == challenge) != tt.challenge {
				t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
			if h.Get("Retry-After") != tt.retry || h.Get("Allow") != tt.allow {
				t.Fatalf("Retry-After %q Allow %q", h.Get("Retry-After"), h.Get("Allow"))
			}
			if h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" ||
				h.Get("Content-Type") != "application/json;charset=UTF-8" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func TestSanitizeDescription(t *testing.T) {
	got := sanitizeDescription("a\"b\\c\x00d\u00e9")
	if got != "a?b?c?d?" {
		t.Fatalf("got %q", got)
	}
}

func TestEtagMatches(t *testing.T) {
	tests := []struct {
		headers []string
		want    bool
	}{
		{[]string{`"abc"`}, true},
		{[]string{`W/"abc"`}, true},
		{[]string{`"x", "abc"`}, true},
		{[]string{`"x"`, `"abc"`}, true},
		{[]string{`*`}, true},
		{[]string{`"abcd"`}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := etagMatches(tt.headers, `"abc"`); got != tt.want {
			t.Errorf("etagMatches(%q) = %v, want %v", tt.headers, got, tt.want)
		}
	}
}

// TestWriteError_StoreUnavailable_WarnsNotInternalError: an outage of the
// database is logged as what it is, at WARN, and a real internal error
// stays an ERROR.
func TestWriteError_StoreUnavailable_WarnsNotInternalError(t *testing.T) {
	for _, tt := range []struct {
		name, level, msg string
		err              error
	}{
		{"store unavailable", "level=WARN", `msg="store unavailable`, fmt.Errorf("revoke token x: %w", store.ErrUnavailable)},
		{"bug", "level=ERROR", `msg="internal error"`, errors.New("nil map")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			writeError(httptest.NewRecorder(), slog.New(slog.NewTextHandler(&logs, nil)), tt.err)
			if !strings.Contains(logs.String(), tt.level) || !strings.Contains(logs.String(), tt.msg) {
				t.Errorf("log = %q, want %s %s", logs.String(), tt.level, tt.msg)
			}
		})
	}
}
