package demoapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/demoapi"
	"github.com/keyshift/keyshift/internal/gateway"
)

func do(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAPI_ReadsAndWritesPerTenant(t *testing.T) {
	t.Parallel()
	api := demoapi.New(func() time.Time { return time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) })
	acme := []string{"X-Keyshift-Tenant", "acme"}
	for _, path := range []string{"/api/suppliers", "/api/purchase_orders", "/api/invoices"} {
		w := do(api, "GET", path, "", acme...)
		var out struct{ Data []map[string]any }
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &out) != nil || len(out.Data) < 2 {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	if w := do(api, "GET", "/api/invoices/2", "", acme...); w.Code != 200 || !strings.Contains(w.Body.String(), "INV-5002") {
		t.Errorf("invoice 2: %d %s", w.Code, w.Body)
	}
	if w := do(api, "GET", "/api/invoices/99", "", acme...); w.Code != 404 {
		t.Errorf("invoice 99: %d", w.Code)
	}
	w := do(api, "POST", "/api/invoices", `{"invoice_number":"INV-6000","supplier_id":1,"total":"10.00"}`, acme...)
	if w.Code != 201 || w.Header().Get("Location") != "/api/invoices/3" {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w := do(api, "PATCH", "/api/invoices/3", `{"status":"approved"}`, acme...); w.Code != 200 || !strings.Contains(w.Body.String(), `"approved"`) {
		t.Errorf("update: %d %s", w.Code, w.Body)
	}
	if w := do(api, "POST", "/api/purchase_orders", `{"supplier_id":2,"total":"99.00"}`, acme...); w.Code != 201 || !strings.Contains(w.Body.String(), "PO-1004") {
		t.Errorf("create order: %d %s", w.Code, w.Body)
	}
	if w := do(api, "POST", "/api/invoices", `{"bogus":1}`, acme...); w.Code != 400 {
		t.Errorf("bad body: %d", w.Code)
	}
	if w := do(api, "GET", "/api/invoices", "", "X-Keyshift-Tenant", "globex"); !strings.Contains(w.Body.String(), `"data":[]`) && !strings.Contains(w.Body.String(), `"data":null`) {
		t.Errorf("other tenant sees %s", w.Body)
	}
	if w := do(api, "GET", "/api/invoices", ""); w.Code != 401 {
		t.Errorf("without the gateway: %d", w.Code)
	}
}

func TestRoutesYAML_ServesTheDemoBehindTheGateway(t *testing.T) {
	t.Parallel()
	rs, err := gateway.ParseRoutes(strings.NewReader(demoapi.RoutesYAML))
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(demoapi.Handler())
	defer up.Close()
	// A fixed key set stands in for keyshift here; the gateway's own tests
	// use the real token endpoint.
	set, token := signedToken(t, "core.invoice.read core.supplier.read")
	gw, err := gateway.New(gateway.Config{Routes: rs, Upstream: up.URL,
		Guard: guard.Config{Issuer: "https://auth.example.com", KeySet: set}})
	if err != nil {
		t.Fatal(err)
	}
	bearer := []string{"Authorization", "Bearer " + token}
	if w := do(gw, "GET", "/api/whoami", "", bearer...); w.Code != 200 || !strings.Contains(w.Body.String(), `"tenant":"acme"`) {
		t.Fatalf("whoami: %d %s", w.Code, w.Body)
	}
	if w := do(gw, "GET", "/api/invoices/1", "", bearer...); w.Code != 200 {
		t.Fatalf("invoice: %d %s", w.Code, w.Body)
	}
	if w := do(gw, "POST", "/api/invoices", `{}`, bearer...); w.Code != 403 {
		t.Fatalf("create without core.invoice.write: %d", w.Code)
	}
	if w := do(gw, "GET", "/api/purchase_orders", "", bearer...); w.Code != 403 {
		t.Fatalf("orders without core.purchase_order.read: %d", w.Code)
	}
}
