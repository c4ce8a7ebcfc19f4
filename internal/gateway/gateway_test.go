package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/gateway"
)

func TestGateway_Token_ForwardedWithIdentityAndNoClientSentIdentity(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, ""), Upstream: up.URL})
	r := httptest.NewRequest("GET", "/api/invoices/7", nil)
	r.Header.Set("Authorization", "Bearer "+is.token(t))
	r.Header.Set("X-Keyshift-Tenant", "evil")
	r.Header.Set("X-Keyshift-Scopes", "core.invoice.write")
	r.Header["x-keyshift-key-id"] = []string{"forged"} // non-canonical, set by hand
	r.Header["X-KEYSHIFT-PERMISSIONS"] = []string{"*"}
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != `{"ok":true}` {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	h := *up.last.Load()
	want := map[string]string{
		"X-Keyshift-Tenant": "acme", "X-Keyshift-Client": is.clientID, "X-Keyshift-Scopes": "core.invoice.read",
		"X-Keyshift-Credential": "token", "X-Keyshift-Key-Id": "", "Authorization": "", "X-Keyshift-Permissions": "",
	}
	for k, v := range want {
		if got := strings.Join(h.Values(k), ","); got != v {
			t.Errorf("upstream saw %s = %q, want %q", k, got, v)
		}
	}
	for name := range h {
		if strings.EqualFold(name, "x-keyshift-key-id") || strings.EqualFold(name, "x-keyshift-permissions") {
			t.Errorf("client-sent %s reached the upstream", name)
		}
	}
	if h.Get("X-Forwarded-For") == "" {
		t.Error("no X-Forwarded-For")
	}
}

func TestGateway_Refusals_DoNotReachUpstream(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, ""), Upstream: up.URL})
	tok := is.token(t)
	cases := []struct {
		name, method, path string
		header             []string
		status             int
	}{
		{"no credentials", "GET", "/api/invoices/1", nil, 401},
		{"bad token", "GET", "/api/invoices/1", []string{"Authorization", "Bearer x.y.z"}, 401},
		{"lacking scope", "POST", "/api/invoices", []string{"Authorization", "Bearer " + tok}, 403},
		{"unmatched path", "GET", "/api/secrets", []string{"Authorization", "Bearer " + tok}, 404},
		{"unmatched method", "DELETE", "/api/invoices/1", []string{"Authorization", "Bearer " + tok}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, gw, tc.method, tc.path, tc.header...)
			if w.Code != tc.status {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status == 404 {
				if p := problemOf(t, w); p["status"] != float64(404) {
					t.Errorf("problem %v", p)
				}
			}
		})
	}
	if n := up.hits.Load(); n != 0 {
		t.Fatalf("upstream reached %d times", n)
	}
}

func TestGateway_PassThrough_UnmatchedNeedsOnlyAValidCredential(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, "pass_through: true\n"), Upstream: up.URL})
	if w := do(t, gw, "GET", "/api/other", "Authorization", "Bearer "+is.token(t)); w.Code != 200 {
		t.Fatalf("pass-through: %d %s", w.Code, w.Body)
	}
	if w := do(t, gw, "GET", "/api/other"); w.Code != 401 {
		t.Fatalf("pass-through without credentials: %d", w.Code)
	}
}

func TestGateway_RateLimit_429WithRetryAfter(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	now := time.Now()
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, "rate_limit: {per_second: 0.5, burst: 3}\n"),
		Upstream: up.URL, Now: func() time.Time { return now }})
	tok := is.token(t)
	for i := range 3 {
		if w := do(t, gw, "GET", "/api/invoices/1", "Authorization", "Bearer "+tok); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	w := do(t, gw, "GET", "/api/invoices/1", "Authorization", "Bearer "+tok)
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("over the limit: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	problemOf(t, w)
	now = now.Add(2 * time.Second)
	if w := do(t, gw, "GET", "/api/invoices/1", "Authorization", "Bearer "+tok); w.Code != 200 {
		t.Fatalf("after Retry-After: %d", w.Code)
	}
}

func TestGateway_UpstreamFailures_ProblemJSON(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	tok := is.token(t)
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) })
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tc := range []struct {
		name, url string
		status    int
	}{{"unreachable", down.URL, 502}, {"too slow", slow.URL, 504}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, ""), Upstream: tc.url,
				ResponseHeaderTimeout: 50 * time.Millisecond, Registerer: reg})
			w := do(t, gw, "GET", "/api/invoices/1", "Authorization", "Bearer "+tok)
			if w.Code != tc.status || problemOf(t, w)["status"] != float64(tc.status) {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "127.0.0.1") {
				t.Error("problem reveals the upstream address")
			}
			if n := counter(t, reg, "keyshift_gateway_upstream_errors_total", map[string]string{"route": "GET /api/invoices/{id...}"}); n != 1 {
				t.Errorf("upstream errors = %v", n)
			}
		})
	}
}

// A streamed answer reaches the client chunk by chunk, not at the end.
func TestGateway_Streaming_ChunksArriveBeforeTheEnd(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	gw := newGateway(t, gateway.Config{Guard: guardCfg(is), Routes: routes(t, ""), Upstream: up.URL})
	srv := httptest.NewServer(gw)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/stream", nil)
	req.Header.Set("Authorization", "Bearer "+is.token(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first chunk %q %v", line, err)
	}
	close(release)
}

func TestGateway_Metrics_PerRouteCredentialAndKeyDecisions(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	up := newUpstream(t, nil)
	intro := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ans := map[string]any{"active": false, "decision": "api_key_unknown"}
		switch r.PostFormValue("token") {
		case "legacy-key-accepted-000000000":
			ans = map[string]any{"active": true, "token_type": "api_key", "tenant": "acme", "key_id": "k1",
				"permissions": []string{"invoices:read"}, "decision": "accepted", "sunset": "2027-01-01T00:00:00Z",
				"deprecation": "2026-06-01T00:00:00Z", "migration_guide_url": "https://docs.example/migrate"}
		case "legacy-key-sunset-00000000000":
			ans = map[string]any{"active": false, "token_type": "api_key", "tenant": "globex", "key_id": "k2",
				"decision": "api_key_sunset", "sunset": "2026-01-01T00:00:00Z"}
		}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	defer intro.Close()
	reg := prometheus.NewRegistry()
	gcfg := guardCfg(is)
	gcfg.KeyChecker = guard.RemoteKeys(intro.URL, "c", "s", 0)
	gw := newGateway(t, gateway.Config{Guard: gcfg, Routes: routes(t, ""), Upstream: up.URL, Registerer: reg})
	tok := is.token(t)
	do(t, gw, "GET", "/api/invoices/1", "Authorization", "Bearer "+tok)
	do(t, gw, "POST", "/api/invoices", "Authorization", "Bearer "+tok)
	w := do(t, gw, "GET", "/api/invoices/1", "X-API-Key", "legacy-key-accepted-000000000")
	if w.Code != 200 || w.Header().Get("Sunset") != "Fri, 01 Jan 2027 00:00:00 GMT" || !strings.Contains(w.Header().Get("Link"), `rel="sunset"`) {
		t.Fatalf("key through the gateway: %d %v", w.Code, w.Header())
	}
	if h := *up.last.Load(); h.Get("X-Keyshift-Credential") != "api_key" || h.Get("X-Keyshift-Key-Id") != "k1" ||
		h.Get("X-Keyshift-Permissions") != "invoices:read" || h.Get("X-Keyshift-Client") != "" || h.Get("X-Api-Key") != "" {
		t.Errorf("upstream saw %v", h)
	}
	if w := do(t, gw, "GET", "/api/invoices/1", "X-API-Key", "legacy-key-sunset-00000000000"); w.Code != 401 || !strings.Contains(w.Body.String(), `"error":"api_key_sunset"`) {
		t.Fatalf("sunset key: %d %s", w.Code, w.Body)
	}
	do(t, gw, "GET", "/nowhere")
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"keyshift_gateway_requests_total", map[string]string{"route": "GET /api/invoices/{id...}", "credential": "token", "code": "200"}},
		{"keyshift_gateway_requests_total", map[string]string{"route": "POST /api/invoices", "credential": "token", "code": "403"}},
		{"keyshift_gateway_requests_total", map[string]string{"route": "GET /api/invoices/{id...}", "credential": "api_key", "code": "200"}},
		{"keyshift_gateway_requests_total", map[string]string{"route": "GET /api/invoices/{id...}", "credential": "api_key", "code": "401"}},
		{"keyshift_gateway_requests_total", map[string]string{"route": "unmatched", "credential": "none", "code": "404"}},
		{"keyshift_gateway_legacy_key_requests_total", map[string]string{"tenant": "acme", "decision": "accepted"}},
		{"keyshift_gateway_legacy_key_requests_total", map[string]string{"tenant": "globex", "decision": "api_key_sunset"}},
	} {
		if n := counter(t, reg, c.name, c.labels); n != 1 {
			t.Errorf("%s%v = %v, want 1", c.name, c.labels, n)
		}
	}
}

func TestParseRoutes_Refusals(t *testing.T) {
	t.Parallel()
	for name, y := range map[string]string{
		"empty":          ``,
		"unknown field":  "routes:\n  - {method: GET, path: /a, scope: [x]}\n",
		"bad method":     "routes:\n  - {method: \"GE T\", path: /a}\n",
		"relative path":  "routes:\n  - {method: GET, path: a}\n",
		"bad upstream":   "upstream: ftp://x\nroutes: []\n",
		"spaced scope":   "routes:\n  - {path: /a, scopes: [\"a b\"]}\n",
		"negative burst": "rate_limit: {burst: -1}\n",
	} {
		if _, err := gateway.ParseRoutes(strings.NewReader(y)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	rs := routes(t, "")
	if len(rs.Routes) != 3 || rs.Routes[0].Pattern() != "GET /api/invoices/{id...}" {
		t.Fatalf("routes %+v", rs.Routes)
	}
}

func TestNew_ConflictingRoutes_Error(t *testing.T) {
	t.Parallel()
	rs, err := gateway.ParseRoutes(strings.NewReader("upstream: http://127.0.0.1:1\nroutes:\n  - {method: GET, path: \"/a/{x}\"}\n  - {method: GET, path: \"/a/{y}\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(gateway.Config{Routes: rs, Guard: guard.Config{Issuer: "https://i", JWKSURL: "https://i/jwks"}, Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "/a/{y}") {
		t.Fatalf("err = %v", err)
	}
	rs.Upstream = ""
	if _, err := gateway.New(gateway.Config{Routes: rs, Guard: guard.Config{Issuer: "https://i", JWKSURL: "https://i/jwks"}}); err == nil {
		t.Fatal("no upstream accepted")
	}
}
