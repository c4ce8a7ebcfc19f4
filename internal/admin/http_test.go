package admin

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAuth_MissingOrInvalidToken_401WithChallenge(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		authHeader string
		wantChall  string
	}{
		{"no header", "", `Bearer realm="keyshift"`},
		{"basic scheme", "Basic Zm9vOmJhcg==", `Bearer realm="keyshift"`},
		{"empty bearer", "Bearer ", `Bearer realm="keyshift"`},
		{"unknown token", "Bearer nope", `Bearer realm="keyshift", error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/v1/tenants", nil)
			if tt.authHeader != "" {
				req.Header.Set("Authorization", tt.authHeader)
			}
			r := e.send(t, req)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", r.status)
			}
			r.problem(t)
			if got := r.header.Get("WWW-Authenticate"); got != tt.wantChall {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChall)
			}
		})
	}
}

func TestAuth_LowercaseBearerScheme_Accepted(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/v1/tenants", nil)
	req.Header.Set("Authorization", "bearer "+tokOperator)
	if r := e.send(t, req); r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", r.status, r.body)
	}
}

func TestAuth_TokenWithoutAdminScope_403InsufficientScope(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, tokReader, http.MethodGet, "/admin/v1/tenants/acme", nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", r.status)
	}
	r.problem(t)
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
}

func TestDecode_BadBodies_Problems(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
	}{
		{"malformed JSON", "application/json", `{"id":`, http.StatusBadRequest},
		{"syntax error", "application/json", `{"id" "x"}`, http.StatusBadRequest},
		{"unknown field", "application/json", `{"id":"initech","name":"Initech","color":"red"}`, http.StatusBadRequest},
		{"wrong type", "application/json", `{"id":7,"name":"Initech"}`, http.StatusBadRequest},
		{"array body", "application/json", `[1,2]`, http.StatusBadRequest},
		{"two values", "application/json", `{"id":"initech","name":"I"}{"id":"x"}`, http.StatusBadRequest},
		{"empty body", "application/json", ``, http.StatusBadRequest},
		{"form content type", "application/x-www-form-urlencoded", `id=initech`, http.StatusUnsupportedMediaType},
		{"no content type", "", `{"id":"initech","name":"Initech"}`, http.StatusUnsupportedMediaType},
		{"oversized", "application/json", `{"id":"initech","name":"` + strings.Repeat("a", 5000) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/v1/tenants", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+tokOperator)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := e.send(t, req)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			r.problem(t)
			if e.auditCount(t, "tenant.create", "initech") != 0 {
				t.Error("audit event written for a refused request")
			}
		})
	}
}

func TestDecode_ContentTypeWithCharset_Accepted(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/v1/tenants", strings.NewReader(`{"id":"initech","name":"Initech"}`))
	req.Header.Set("Authorization", "Bearer "+tokOperator)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if r := e.send(t, req); r.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %s", r.status, r.body)
	}
}

func TestProblem_ValidationShape(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, tokOperator, http.MethodPost, "/admin/v1/tenants", `{"id":"X","name":""}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("status = %d", r.status)
	}
	m := r.json(t)
	for _, k := range []string{"type", "title", "status", "detail", "errors"} {
		if _, ok := m[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, r.body)
		}
	}
	errs, _ := m["errors"].([]any)
	if len(errs) != 2 {
		t.Fatalf("errors = %v, want 2 entries", errs)
	}
	first, _ := errs[0].(map[string]any)
	if first["field"] != "id" || first["message"] == "" {
		t.Errorf("first error = %v", first)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
}

func TestRouting_UnknownAdminPath_ProblemNotFound(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/admin/v1/nothing", "/admin/v1/tenants/acme/widgets"} {
		r := e.call(t, tokOperator, http.MethodGet, path, nil)
		if r.status != http.StatusNotFound {
			t.Fatalf("%s: status = %d", path, r.status)
		}
		r.problem(t)
	}
}

func TestResponses_NoStore(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, tokOperator, http.MethodGet, "/admin/v1/scopes", nil)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, headers %v", r.status, r.header)
	}
}

func TestRouting_WrongMethod_405WithAllow(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ method, path, allow string }{
		{http.MethodPut, "/admin/v1/tenants", "GET, POST"},
		{http.MethodPost, "/admin/v1/tenants/acme", "GET, PATCH, DELETE"},
		{http.MethodGet, "/admin/v1/signing-keys/rotate", "POST"},
		{http.MethodDelete, "/admin/v1/scopes/core.invoice.read", "PUT"},
	}
	for _, tt := range tests {
		r := e.call(t, tokOperator, tt.method, tt.path, nil)
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 405", tt.method, tt.path, r.status)
			continue
		}
		r.problem(t)
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

type panicAuth struct{}

func (panicAuth) Authenticate(context.Context, string) (Principal, error) { panic("boom") }

func TestWrap_Panic_500ProblemWithoutDetails(t *testing.T) {
	e := newEnv(t)
	api := New(e.st, panicAuth{}, nil, Config{Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	api.Register(mux)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/admin/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer x")
	mux.ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status = %d", r.status)
	}
	if p := r.problem(t); strings.Contains(p.Detail, "boom") {
		t.Errorf("detail leaks the panic: %q", p.Detail)
	}
}
