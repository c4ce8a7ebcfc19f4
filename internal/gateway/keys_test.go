package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/gateway"
	"github.com/keyshift/keyshift/internal/store"
)

// seedKeys creates tenant acme, a key with invoices:read and a timeline:
// deprecated a month ago, keys off in a month.
func seedKeys(t testing.TB, k *keyshift) (key, keyID string, off time.Time) {
	t.Helper()
	ctx := context.Background()
	p := admin.SystemPrincipal()
	if _, err := k.api.PutScope(ctx, p, "core.invoice.read", admin.PutScopeRequest{Description: "Read invoices", Permissions: []string{"invoices:read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.api.CreateTenant(ctx, p, admin.CreateTenantRequest{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	now := k.clock().UTC().Truncate(time.Second)
	dep, off := now.AddDate(0, -1, 0), now.AddDate(0, 1, 0)
	if _, err := k.api.PutTimeline(ctx, p, apikey.Timeline{DeprecatedAt: &dep, KeysOffAt: &off,
		MigrationGuideURL: "https://docs.example.com/migrate"}); err != nil {
		t.Fatal(err)
	}
	created, err := k.api.CreateKey(ctx, p, "acme", admin.CreateKeyRequest{Name: "ERP export",
		Permissions: []string{"invoices:read"}, Contact: store.Contact{Login: "erp"}})
	if err != nil {
		t.Fatal(err)
	}
	// The key service learns the timeline from the change feed: wait until
	// it decides with it, so the test does not race the notification.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, ok, err := k.keys.IntrospectKey(ctx, created.Key, "", true)
		if err != nil {
			t.Fatal(err)
		}
		if ok && res.Decision.Sunset != nil && res.Decision.Sunset.Equal(off) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key service never saw the timeline: %+v", res.Decision)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return created.Key, created.ID, off
}

// The whole key path against real keyshift pieces, in process (LocalKeys)
// and remotely (RemoteKeys through the real introspection endpoint): the
// key works with its deprecation signals, stops when disabled, and is
// refused as api_key_sunset once the clock passes keys_off_at.
func TestGateway_LegacyKeys_InProcessAndRemote(t *testing.T) {
	t.Parallel()
	k := startKeyshift(t)
	key, keyID, off := seedKeys(t, k)
	up := newUpstream(t, nil)
	checkers := map[string]guard.KeyChecker{
		"in process": gateway.NewLocalKeys(k.keys),
		"remote":     guard.NewRemote(guard.RemoteConfig{IntrospectURL: k.URL + "/oauth2/introspect", ClientID: k.operatorID, ClientSecret: k.operatorSecret, CacheTTL: time.Nanosecond, Now: k.clock}),
	}
	gws := map[string]*gateway.Gateway{}
	for name, kc := range checkers {
		gws[name] = newGateway(t, gateway.Config{Routes: routes(t, ""), Upstream: up.URL, Now: k.clock,
			Guard: guard.Config{Issuer: k.URL, KeySource: k.ring, KeyChecker: kc}})
	}
	wantSunset := off.Format("Mon, 02 Jan 2006 15:04:05 GMT")
	for name, gw := range gws {
		w := do(t, gw, "GET", "/api/invoices/1", "X-API-Key", key)
		if w.Code != 200 || w.Header().Get("Sunset") != wantSunset || !strings.HasPrefix(w.Header().Get("Deprecation"), "@") ||
			!strings.Contains(w.Header().Get("Link"), `<https://docs.example.com/migrate>; rel="sunset"`) {
			t.Fatalf("%s: accepted key: %d %v %s", name, w.Code, w.Header(), w.Body)
		}
		if got := (*up.last.Load()).Get("X-Keyshift-Key-Id"); got != keyID {
			t.Errorf("%s: upstream saw key id %q", name, got)
		}
		if w := do(t, gw, "POST", "/api/invoices", "X-API-Key", key); w.Code != 403 {
			t.Errorf("%s: key lacking invoices:create: %d", name, w.Code)
		}
	}
	k.now.Store(off.Add(time.Minute).UnixNano())
	for name, gw := range gws {
		w := do(t, gw, "GET", "/api/invoices/1", "X-API-Key", key)
		var body map[string]string
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 401 || body["error"] != "api_key_sunset" || body["sunset"] != off.Format(time.RFC3339) ||
			body["migration_guide_url"] != "https://docs.example.com/migrate" || !strings.Contains(body["error_description"], "no longer accepted") {
			t.Fatalf("%s: after keys_off_at: %d %s", name, w.Code, w.Body)
		}
	}
	k.now.Store(time.Now().UnixNano())
	disabled := "disabled"
	if _, err := k.api.UpdateKey(context.Background(), admin.SystemPrincipal(), "acme", keyID, admin.UpdateKeyRequest{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	for name, gw := range gws {
		deadline := time.Now().Add(2 * time.Second)
		for {
			w := do(t, gw, "GET", "/api/invoices/1", "X-API-Key", key)
			if w.Code == 401 && strings.Contains(w.Body.String(), "api_key_disabled") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: disabled key: %d %s", name, w.Code, w.Body)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
