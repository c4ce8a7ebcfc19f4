package admin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/notify"
	"github.com/keyshift/keyshift/internal/store"
)

// keyCount counts the stored keys of tenant.
func (e *env) keyCount(t *testing.T, tenant string) int {
	t.Helper()
	ks, err := e.st.ListAPIKeys(context.Background(), store.APIKeyFilter{Tenant: tenant})
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	return len(ks)
}

// mustCreateKey creates a key of tenant as the operator.
func (e *env) mustCreateKey(t *testing.T, tenant string, req CreateKeyRequest) CreateKeyResponse {
	t.Helper()
	if req.Name == "" {
		req.Name = "ERP sync"
	}
	k, err := e.api.CreateKey(context.Background(), operator, tenant, req)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k
}

// putTimeline stores a timeline as the operator.
func (e *env) putTimeline(t *testing.T, tl apikey.Timeline) {
	t.Helper()
	if _, err := e.api.PutTimeline(context.Background(), operator, tl); err != nil {
		t.Fatalf("put timeline: %v", err)
	}
}

func tp(s string) *time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &v
}

func TestCreateKey_KeyShownOnceAndStoredAsHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call(t, tokAcme, "POST", "/admin/v1/tenants/acme/keys", map[string]any{
		"name": "ERP sync", "permissions": []string{"invoices:read"}, "expires_at": "2027-03-01",
		"contact": map[string]string{"login": "jdoe", "email": "jdoe@acme.example"},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var created CreateKeyResponse
	r.decode(t, &created)
	if apikey.Recognize(created.Key) != apikey.FormatKeyshift || created.ID == "" || created.Owner != "tenant" {
		t.Fatalf("created = %+v", created)
	}
	if created.ExpiresAt == nil || !created.ExpiresAt.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires_at = %v, want 2027-03-01T00:00:00Z", created.ExpiresAt)
	}
	h := apikey.Hash(created.Key)
	stored, err := e.st.GetAPIKeyByHash(context.Background(), h[:])
	if err != nil || stored.ID != created.ID {
		t.Fatalf("lookup by hash: %+v, %v", stored, err)
	}
	got := e.call(t, tokAcme, "GET", "/admin/v1/tenants/acme/keys/"+created.ID, nil)
	list := e.call(t, tokAcme, "GET", "/admin/v1/tenants/acme/keys", nil)
	for _, resp := range []response{got, list} {
		if resp.status != http.StatusOK || strings.Contains(string(resp.body), created.Key) ||
			strings.Contains(string(resp.body), hex.EncodeToString(h[:])) {
			t.Errorf("GET shows the key or its hash (status %d): %s", resp.status, resp.body)
		}
	}
	if n := e.auditCount(t, "api_key.create", created.ID); n != 1 {
		t.Errorf("audit events = %d, want 1", n)
	}
}

func TestCreateKey_BadInput_400AndNothingWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("x", 201)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing name", map[string]any{}, "name"},
		{"name too long", map[string]any{"name": long}, "name"},
		{"name with control char", map[string]any{"name": "a\x00b"}, "name"},
		{"description too long", map[string]any{"name": "k", "description": strings.Repeat("d", 1001)}, "description"},
		{"unknown owner", map[string]any{"name": "k", "owner": "robot"}, "owner"},
		{"platform without purpose", map[string]any{"name": "k", "owner": "platform"}, "purpose"},
		{"malformed permission", map[string]any{"name": "k", "permissions": []string{"Invoices"}}, "permissions[0]"},
		{"repeated permission", map[string]any{"name": "k", "permissions": []string{"invoices:read", "invoices:read"}}, "permissions"},
		{"unknown permission", map[string]any{"name": "k", "permissions": []string{"ledgers:read"}}, "permissions[0]"},
		{"bad expiry", map[string]any{"name": "k", "expires_at": "next tuesday"}, "expires_at"},
		{"past expiry", map[string]any{"name": "k", "expires_at": "2020-01-01"}, "expires_at"},
		{"today is not the future", map[string]any{"name": "k", "expires_at": testStart.Format(time.DateOnly)}, "expires_at"},
		{"bad email", map[string]any{"name": "k", "contact": map[string]string{"email": "Joe <j@x.example>"}}, "contact.email"},
		{"login with space", map[string]any{"name": "k", "contact": map[string]string{"login": "j doe"}}, "contact.login"},
		{"unknown field", `{"name":"k","secret":"x"}`, ""},
		{"wrong type", `{"name":"k","permissions":"invoices:read"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tokOperator, "POST", "/admin/v1/tenants/acme/keys", tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			p := r.problem(t)
			if tc.field != "" && !slices.Contains(fieldsOf(p), tc.field) {
				t.Errorf("fields %v, want %q", fieldsOf(p), tc.field)
			}
		})
	}
	if n := e.keyCount(t, "acme"); n != 0 {
		t.Errorf("%d keys stored after refused requests", n)
	}
}

func TestCreateKey_Authorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, token, tenant string
		body                map[string]any
		want                int
	}{
		{"tenant admin, platform key", tokAcme, "acme", map[string]any{"name": "sftp", "owner": "platform", "purpose": "sftp-loader"}, http.StatusForbidden},
		{"tenant admin, other tenant", tokAcme, "globex", map[string]any{"name": "k"}, http.StatusNotFound},
		{"tenant admin, unknown tenant", tokAcme, "nope", map[string]any{"name": "k"}, http.StatusNotFound},
		{"non-admin token", tokReader, "acme", map[string]any{"name": "k"}, http.StatusForbidden},
		{"operator, platform key", tokOperator, "acme", map[string]any{"name": "sftp", "owner": "platform", "purpose": "sftp-loader"}, http.StatusCreated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.token, "POST", "/admin/v1/tenants/"+tc.tenant+"/keys", tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
		})
	}
	if n := e.keyCount(t, "acme") + e.keyCount(t, "globex"); n != 1 {
		t.Errorf("%d keys stored, want only the operator's", n)
	}
}

func TestCreateKey_TimelineRefusesTenantKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		tl   apikey.Timeline
		code string
	}{
		{"no new keys", apikey.Timeline{DeprecatedAt: tp("2026-01-01T00:00:00Z"), NoNewKeysAt: tp("2026-11-01T00:00:00Z")}, apikey.CreateNoNewKeys},
		{"keys off", apikey.Timeline{DeprecatedAt: tp("2026-01-01T00:00:00Z"), KeysOffAt: tp("2026-11-27T06:00:00Z")}, apikey.CreateKeysOff},
		{"tenant created after oauth-only", apikey.Timeline{TenantOAuthOnlyAfter: tp("2026-01-01T00:00:00Z")}, apikey.CreateTenantOAuthOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.putTimeline(t, tc.tl)
			r := e.call(t, tokAcme, "POST", "/admin/v1/tenants/acme/keys", map[string]any{"name": "k"})
			if r.status != http.StatusConflict {
				t.Fatalf("status %d, want 409: %s", r.status, r.body)
			}
			p := r.problem(t)
			if len(p.Errors) != 1 || p.Errors[0].Message != tc.code || !strings.Contains(p.Detail, "OAuth 2.0 client") {
				t.Errorf("problem %+v, want code %s", p, tc.code)
			}
			platform := e.call(t, tokOperator, "POST", "/admin/v1/tenants/acme/keys",
				map[string]any{"name": "sftp", "owner": "platform", "purpose": "sftp-loader"})
			if platform.status != http.StatusCreated {
				t.Errorf("platform key: status %d: %s", platform.status, platform.body)
			}
			if n := e.keyCount(t, "acme"); n != 1 {
				t.Errorf("%d keys, want the platform key only", n)
			}
		})
	}
}

func TestCreateKey_LoginTakenAmongKeys_409(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCreateKey(t, "acme", CreateKeyRequest{Contact: store.Contact{Login: "jdoe"}})
	r := e.call(t, tokAcme, "POST", "/admin/v1/tenants/acme/keys", map[string]any{"name": "k2", "contact": map[string]string{"login": "JDoe"}})
	if r.status != http.StatusConflict || r.problem(t).Title != "Login has already been taken" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// Another tenant may use the same login.
	if r := e.call(t, tokGlobex, "POST", "/admin/v1/tenants/globex/keys", map[string]any{"name": "k", "contact": map[string]string{"login": "jdoe"}}); r.status != http.StatusCreated {
		t.Fatalf("globex: status %d: %s", r.status, r.body)
	}
	if n := e.keyCount(t, "acme"); n != 1 {
		t.Errorf("acme keys = %d, want 1", n)
	}
}

func TestUpdateKey_TenantAdminAndPlatformKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plat := e.mustCreateKey(t, "acme", CreateKeyRequest{Name: "sftp", Owner: "platform", Purpose: "sftp-loader"})
	own := e.mustCreateKey(t, "acme", CreateKeyRequest{})
	other := e.mustCreateKey(t, "globex", CreateKeyRequest{})
	cases := []struct {
		name, token, path string
		body              any
		want              int
	}{
		{"disable platform key", tokAcme, "/admin/v1/tenants/acme/keys/" + plat.ID, map[string]any{"status": "disabled"}, http.StatusForbidden},
		{"revoke platform key", tokAcme, "/admin/v1/tenants/acme/keys/" + plat.ID, map[string]any{"status": "revoked"}, http.StatusForbidden},
		{"expire platform key", tokAcme, "/admin/v1/tenants/acme/keys/" + plat.ID, map[string]any{"expires_at": "2027-01-01"}, http.StatusForbidden},
		{"other tenant's key via own path", tokAcme, "/admin/v1/tenants/acme/keys/" + other.ID, map[string]any{"status": "disabled"}, http.StatusNotFound},
		{"other tenant's key via its path", tokAcme, "/admin/v1/tenants/globex/keys/" + other.ID, map[string]any{"status": "disabled"}, http.StatusNotFound},
		{"bad status", tokAcme, "/admin/v1/tenants/acme/keys/" + own.ID, map[string]any{"status": "paused"}, http.StatusBadRequest},
		{"bad expiry", tokAcme, "/admin/v1/tenants/acme/keys/" + own.ID, map[string]any{"expires_at": 5}, http.StatusBadRequest},
		{"empty patch", tokAcme, "/admin/v1/tenants/acme/keys/" + own.ID, map[string]any{}, http.StatusBadRequest},
		{"unknown key", tokAcme, "/admin/v1/tenants/acme/keys/key_nope", map[string]any{"status": "disabled"}, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.token, "PATCH", tc.path, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			r.problem(t)
		})
	}
	for _, id := range []string{plat.ID, own.ID, other.ID} {
		k, err := e.st.GetAPIKey(context.Background(), id)
		if err != nil || k.Status != store.StatusActive || k.ExpiresAt != nil {
			t.Errorf("key %s changed: %+v, %v", id, k, err)
		}
	}
	// The tenant admin sees the platform key, but not its hint.
	got := e.call(t, tokAcme, "GET", "/admin/v1/tenants/acme/keys/"+plat.ID, nil)
	var v KeyView
	got.decode(t, &v)
	if got.status != http.StatusOK || v.Hint != "" || v.Owner != "platform" {
		t.Errorf("tenant admin view of platform key: %d %+v", got.status, v)
	}
	if due, _ := e.st.ListDueOutbox(context.Background(), testStart.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("outbox holds %d messages after refused changes", len(due))
	}
}

func TestUpdateKey_DisableQueuesNotification_RevokeIsFinal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := e.mustCreateKey(t, "acme", CreateKeyRequest{})
	path := "/admin/v1/tenants/acme/keys/" + k.ID
	if r := e.call(t, tokAcme, "PATCH", path, map[string]any{"status": "disabled", "expires_at": "2027-06-30"}); r.status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	all, err := e.st.ListDueOutbox(context.Background(), testStart.Add(time.Hour), 10)
	var due []store.OutboxMessage // the tenant's; the operator gets a copy too
	for _, m := range all {
		if m.Tenant == "acme" {
			due = append(due, m)
		}
	}
	if err != nil || len(due) != 1 || due[0].Topic != notify.TopicKeyDisabled || len(all) != 2 {
		t.Fatalf("outbox = %+v, %v; want one message for acme and one for the operator", all, err)
	}
	var payload map[string]any
	if err := json.Unmarshal(due[0].Payload, &payload); err != nil || payload["key_id"] != k.ID {
		t.Errorf("payload %s", due[0].Payload)
	}
	if r := e.call(t, tokAcme, "PATCH", path, map[string]any{"status": "active", "expires_at": nil}); r.status != http.StatusOK {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	if st, _ := e.st.GetAPIKey(context.Background(), k.ID); st.ExpiresAt != nil || st.Status != "active" {
		t.Errorf("after enable: %+v", st)
	}
	if r := e.call(t, tokAcme, "PATCH", path, map[string]any{"status": "revoked"}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r := e.call(t, tokOperator, "PATCH", path, map[string]any{"status": "active"})
	if r.status != http.StatusConflict {
		t.Fatalf("reactivate revoked: %d %s", r.status, r.body)
	}
	if st, _ := e.st.GetAPIKey(context.Background(), k.ID); st.Status != store.StatusRevoked {
		t.Errorf("status %s after refused change", st.Status)
	}
	if n := e.auditCount(t, "api_key.update", k.ID); n != 3 {
		t.Errorf("audit events = %d, want 3", n)
	}
}

func TestListKeys_ShowsUsageAndLastUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := e.mustCreateKey(t, "acme", CreateKeyRequest{})
	idle := e.mustCreateKey(t, "acme", CreateKeyRequest{Name: "idle"})
	today := apikey.MidnightUTC(testStart)
	last := testStart.Add(-time.Minute)
	deltas := []store.UsageDelta{
		{KeyID: k.ID, Tenant: "acme", Day: today, Accepted: 5, Refused: map[string]int64{apikey.CodeBrownout: 2}, LastUsedAt: last},
		{KeyID: k.ID, Tenant: "acme", Day: today.AddDate(0, 0, -3), Accepted: 10},
		{KeyID: k.ID, Tenant: "acme", Day: today.AddDate(0, 0, -20), Accepted: 100},
		{KeyID: k.ID, Tenant: "acme", Day: today.AddDate(0, 0, -40), Accepted: 1000},
	}
	if err := e.st.Tx(context.Background(), func(tx store.Tx) error { return tx.AddUsage(context.Background(), deltas) }); err != nil {
		t.Fatal(err)
	}
	var list KeyList
	r := e.call(t, tokAcme, "GET", "/admin/v1/tenants/acme/keys", nil)
	r.decode(t, &list)
	byID := map[string]KeyView{}
	for _, v := range list.Keys {
		byID[v.ID] = v
	}
	got := byID[k.ID]
	if want := (apikey.KeyUsage{Requests1d: 7, Requests7d: 17, Requests30d: 117}); got.Usage != want {
		t.Errorf("usage = %+v, want %+v", got.Usage, want)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(last) {
		t.Errorf("last_used_at = %v, want %v", got.LastUsedAt, last)
	}
	if v := byID[idle.ID]; v.LastUsedAt != nil || v.Usage != (apikey.KeyUsage{}) {
		t.Errorf("idle key = %+v", v)
	}
	if r := e.call(t, tokGlobex, "GET", "/admin/v1/tenants/acme/keys", nil); r.status != http.StatusNotFound {
		t.Errorf("globex lists acme keys: %d", r.status)
	}
	if r := e.call(t, tokGlobex, "GET", "/admin/v1/tenants/acme/keys/"+k.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("globex reads acme key: %d", r.status)
	}
	if r := e.call(t, tokGlobex, "GET", "/admin/v1/tenants/globex/keys/"+k.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("globex reads acme key through its own path: %d", r.status)
	}
}

func TestListKeys_Pages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		e.mustCreateKey(t, "acme", CreateKeyRequest{})
	}
	var seen []string
	after := ""
	for range 5 {
		l, err := e.api.ListKeys(context.Background(), acmeAdmin, "acme", KeyQuery{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range l.Keys {
			seen = append(seen, k.ID)
		}
		if l.NextAfter == "" {
			break
		}
		after = l.NextAfter
	}
	if len(seen) != 3 || !slices.IsSorted(seen) {
		t.Errorf("paged ids = %v", seen)
	}
	if r := e.call(t, tokAcme, "GET", "/admin/v1/tenants/acme/keys?limit=0", nil); r.status != http.StatusBadRequest {
		t.Errorf("limit=0: %d", r.status)
	}
}
