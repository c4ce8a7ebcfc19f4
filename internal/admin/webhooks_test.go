package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

func TestWebhooks_SetShowOnceIsolateAndValidate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const path = "/admin/v1/tenants/acme/webhook"
	if r := e.call(t, tokAcme, "GET", path, nil); r.status != http.StatusNotFound {
		t.Fatalf("webhook before set: %d %s", r.status, r.body)
	}
	r := e.call(t, tokAcme, "PUT", path, map[string]any{"url": "https://hooks.acme.example/keyshift"})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"secret":"whs_`) {
		t.Fatalf("set webhook: %d %s", r.status, r.body)
	}
	if r := e.call(t, tokAcme, "GET", path, nil); r.status != http.StatusOK || strings.Contains(string(r.body), `"secret"`) {
		t.Fatalf("get webhook shows the secret or fails: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, tok, method, path string
		body                    any
		want                    int
	}{
		{"other tenant's admin", tokGlobex, "GET", path, nil, http.StatusNotFound},
		{"other tenant's admin sets", tokGlobex, "PUT", path, map[string]any{"url": "https://evil.example/"}, http.StatusNotFound},
		{"tenant admin on the operator's", tokAcme, "PUT", "/admin/v1/tenants/platform/webhook", map[string]any{"url": "https://x.example/"}, http.StatusNotFound},
		{"plain http to a public host", tokAcme, "PUT", path, map[string]any{"url": "http://hooks.acme.example/"}, http.StatusBadRequest},
		{"not a URL", tokAcme, "PUT", path, map[string]any{"url": "::nope"}, http.StatusBadRequest},
		{"ftp", tokAcme, "PUT", path, map[string]any{"url": "ftp://hooks.acme.example/"}, http.StatusBadRequest},
		{"unknown field", tokAcme, "PUT", path, map[string]any{"url": "https://a.example/", "secret": "mine"}, http.StatusBadRequest},
		{"unknown tenant", tokOperator, "PUT", "/admin/v1/tenants/nobody/webhook", map[string]any{"url": "https://a.example/"}, http.StatusNotFound},
		{"test event", tokAcme, "POST", path + "/test", nil, http.StatusAccepted},
		{"delete", tokAcme, "DELETE", path, nil, http.StatusNoContent},
		{"gone", tokAcme, "GET", path, nil, http.StatusNotFound},
	}
	for _, c := range cases {
		if r := e.call(t, c.tok, c.method, c.path, c.body); r.status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.want)
		}
	}
	events, err := e.st.ListAudit(t.Context(), store.AuditFilter{Tenant: "acme", ObjectID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range events {
		if strings.HasPrefix(ev.Action, "webhook.") {
			actions = append(actions, ev.Action)
		}
		if strings.Contains(string(ev.Details), "whs_") || strings.Contains(string(ev.Details), "hooks.acme.example") {
			t.Errorf("audit event %s leaks the secret or URL: %s", ev.Action, ev.Details)
		}
	}
	if strings.Join(actions, ",") != "webhook.delete,webhook.test,webhook.set" {
		t.Errorf("webhook audit events %v", actions)
	}
}
