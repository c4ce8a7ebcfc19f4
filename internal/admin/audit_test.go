package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func TestListAudit_TenantAdminSeesOnlyOwnTenant(t *testing.T) {
	e := newEnv(t)
	e.mustCreateClient(t, "acme", CreateClientRequest{})
	e.mustCreateClient(t, "globex", CreateClientRequest{})
	r := e.call(t, tokAcme, http.MethodGet, "/admin/v1/audit", nil)
	var list AuditList
	r.decode(t, &list)
	if len(list.Events) == 0 {
		t.Fatal("no events")
	}
	for _, ev := range list.Events {
		if ev.Tenant != "acme" {
			t.Errorf("acme admin sees event of tenant %q: %+v", ev.Tenant, ev)
		}
	}
	if r := e.call(t, tokAcme, http.MethodGet, "/admin/v1/audit?tenant=acme", nil); r.status != http.StatusOK {
		t.Errorf("own tenant filter = %d", r.status)
	}
}

func TestListAudit_Filters(t *testing.T) {
	e := newEnv(t)
	a := e.mustCreateClient(t, "acme", CreateClientRequest{})
	e.clock.Add(time.Minute)
	e.mustCreateClient(t, "globex", CreateClientRequest{})
	tests := []struct {
		name  string
		query string
		check func(t *testing.T, l AuditList)
	}{
		{"by tenant", "?tenant=globex", func(t *testing.T, l AuditList) {
			for _, ev := range l.Events {
				if ev.Tenant != "globex" {
					t.Errorf("event of %q", ev.Tenant)
				}
			}
		}},
		{"by action and object", "?action=client.create&object_id=" + a.ClientID, func(t *testing.T, l AuditList) {
			if len(l.Events) != 1 || l.Events[0].ObjectID != a.ClientID {
				t.Fatalf("events = %+v", l.Events)
			}
			var d map[string]any
			if err := json.Unmarshal(l.Events[0].Details, &d); err != nil || d["name"] != "Integration" {
				t.Errorf("details = %s (%v)", l.Events[0].Details, err)
			}
		}},
		{"limit and paging", "?limit=2", func(t *testing.T, l AuditList) {
			if len(l.Events) != 2 || l.NextBefore == nil {
				t.Errorf("events = %d, next_before = %v", len(l.Events), l.NextBefore)
			}
			if l.Events[0].Action != "client.create" || l.Events[0].Tenant != "globex" {
				t.Errorf("newest first: %+v", l.Events[0])
			}
		}},
		{"before", "?before=" + testStart.Add(30*time.Second).Format(time.RFC3339), func(t *testing.T, l AuditList) {
			for _, ev := range l.Events {
				if !ev.Time.Before(testStart.Add(30 * time.Second)) {
					t.Errorf("event at %v", ev.Time)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tokOperator, http.MethodGet, "/admin/v1/audit"+tt.query, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			var l AuditList
			r.decode(t, &l)
			tt.check(t, l)
		})
	}
}

func TestListAudit_BadQuery_400(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?before=yesterday"} {
		r := e.call(t, tokOperator, http.MethodGet, "/admin/v1/audit"+q, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status = %d", q, r.status)
			continue
		}
		r.problem(t)
	}
}

func TestSigningKeys_ListAndRotate(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, tokAcme, http.MethodGet, "/admin/v1/signing-keys", nil)
	if r.status != http.StatusOK {
		t.Fatalf("list = %d", r.status)
	}
	for _, banned := range []string{"\"d\"", "private", "sealed", "jwk"} {
		if strings.Contains(strings.ToLower(string(r.body)), banned) {
			t.Errorf("list mentions %s: %s", banned, r.body)
		}
	}
	var before SigningKeyList
	r.decode(t, &before)
	active := ""
	for _, k := range before.SigningKeys {
		if k.State == store.KeyActive {
			active = k.KID
		}
	}
	if active == "" {
		t.Fatalf("no active key in %+v", before)
	}
	if r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/signing-keys/rotate", nil); r.status != http.StatusForbidden {
		t.Errorf("tenant admin rotate = %d, want 403", r.status)
	}
	if n := e.auditCount(t, "signing_key.rotate", ""); n != 0 {
		t.Errorf("rotate events before = %d", n)
	}
	r = e.call(t, tokOperator, http.MethodPost, "/admin/v1/signing-keys/rotate", nil)
	if r.status != http.StatusOK {
		t.Fatalf("rotate = %d: %s", r.status, r.body)
	}
	var after SigningKeyList
	r.decode(t, &after)
	for _, k := range after.SigningKeys {
		if k.KID == active && k.State != store.KeyRetired {
			t.Errorf("old active key is %s", k.State)
		}
	}
	evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "signing_key.rotate"})
	if len(evs) != 1 || evs[0].Actor != operator.ClientID {
		t.Errorf("rotate events = %+v", evs)
	}
}

func TestSigningKeys_NoRotator_501(t *testing.T) {
	e := newEnv(t)
	api := New(e.st, staticAuth{}, nil, Config{Now: e.clock.Now})
	err := api.RotateSigningKeys(context.Background(), operator)
	if p, ok := err.(*Problem); !ok || p.Status != http.StatusNotImplemented {
		t.Fatalf("err = %v", err)
	}
}

func TestBootstrap_Idempotent(t *testing.T) {
	e := newEnv(t) // already bootstrapped once
	ctx := context.Background()
	created, err := Bootstrap(ctx, e.st, e.clock.Now)
	if err != nil || created {
		t.Fatalf("second bootstrap: created=%v err=%v", created, err)
	}
	n := e.auditCount(t, "scope.create", oauth.ScopeAdmin)
	if n != 1 {
		t.Errorf("keyshift:admin created %d times", n)
	}
	evs, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "tenant.create", ObjectID: store.PlatformTenant})
	if len(evs) != 1 || evs[0].Actor != "keyshift" {
		t.Errorf("platform tenant events = %+v", evs)
	}
}
