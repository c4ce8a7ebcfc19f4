package admin

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

func TestMigration_StatusesAndImpactReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.api.CreateTenant(ctx, operator, CreateTenantRequest{ID: "initech", Name: "Initech"}); err != nil {
		t.Fatal(err)
	}
	e.putTimeline(t, apikey.Timeline{DeprecatedAt: tp("2026-12-01T00:00:00Z"), KeysOffAt: tp("2027-06-01T00:00:00Z"),
		Extensions: []apikey.Extension{{Tenant: "globex", KeysOffAt: *tp("2027-09-01T00:00:00Z"), Reason: "audit season"}}})
	busy := e.mustCreateKey(t, "acme", CreateKeyRequest{Name: "busy"})
	quiet := e.mustCreateKey(t, "acme", CreateKeyRequest{Name: "quiet"})
	e.mustCreateKey(t, "acme", CreateKeyRequest{Name: "sftp", Owner: "platform", Purpose: "sftp-loader"})
	e.mustCreateKey(t, "globex", CreateKeyRequest{})
	e.mustCreateClient(t, "globex", CreateClientRequest{})
	gone := e.mustCreateKey(t, "initech", CreateKeyRequest{})
	if _, err := e.api.UpdateKey(ctx, operator, "initech", gone.ID, UpdateKeyRequest{Status: ptrTo("disabled")}); err != nil {
		t.Fatal(err)
	}
	day := apikey.MidnightUTC(testStart)
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.AddUsage(ctx, []store.UsageDelta{{KeyID: busy.ID, Tenant: "acme", Day: day, Accepted: 1200, LastUsedAt: testStart}})
	})
	if err != nil {
		t.Fatal(err)
	}

	r := e.call(t, tokOperator, "GET", "/admin/v1/migration?at=2027-07-01T00:00:00Z", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var rep apikey.Report
	r.decode(t, &rep)
	by := map[string]apikey.TenantReport{}
	for _, tr := range rep.Tenants {
		by[tr.Tenant] = tr
	}
	if _, ok := by[store.PlatformTenant]; ok {
		t.Error("the platform tenant is listed")
	}
	acme, globex, initech := by["acme"], by["globex"], by["initech"]
	if acme.Status != apikey.TenantNotStarted || acme.ActiveKeys != 2 || acme.KeysInUse30d != 1 || acme.PlatformKeys != 1 {
		t.Errorf("acme = %+v", acme)
	}
	if len(acme.WouldBeRefused) != 2 || acme.WouldBeRefused[0].KeyID != busy.ID || acme.WouldBeRefused[0].Requests30d != 1200 ||
		acme.WouldBeRefused[0].Decision != apikey.CodeSunset || acme.WouldBeRefused[1].KeyID != quiet.ID {
		t.Errorf("acme would be refused: %+v", acme.WouldBeRefused)
	}
	if globex.Status != apikey.TenantInProgress || len(globex.WouldBeRefused) != 0 || !globex.KeysOffAt.Equal(*tp("2027-09-01T00:00:00Z")) {
		t.Errorf("globex (extended) = %+v", globex)
	}
	if initech.Status != apikey.TenantMigrated || initech.ActiveKeys != 0 {
		t.Errorf("initech = %+v", initech)
	}

	// Today nothing is refused.
	now, err := e.api.Migration(ctx, operator, testStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range now.Tenants {
		if len(tr.WouldBeRefused) != 0 {
			t.Errorf("%s: refused today: %+v", tr.Tenant, tr.WouldBeRefused)
		}
	}
}

func TestMigration_TenantAdminSeesOwnTenant_CSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCreateKey(t, "acme", CreateKeyRequest{})
	e.mustCreateKey(t, "globex", CreateKeyRequest{})
	var rep apikey.Report
	e.call(t, tokAcme, "GET", "/admin/v1/migration", nil).decode(t, &rep)
	if len(rep.Tenants) != 1 || rep.Tenants[0].Tenant != "acme" || !rep.At.Equal(testStart) {
		t.Fatalf("tenant admin report = %+v", rep)
	}
	r := e.call(t, tokOperator, "GET", "/admin/v1/migration?format=csv", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", r.status, r.header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "tenant" || recs[1][0] != "acme" || recs[2][1] != apikey.TenantNotStarted {
		t.Errorf("csv = %v, %v", recs, err)
	}
	for _, q := range []string{"?at=tomorrow", "?format=xml"} {
		if r := e.call(t, tokOperator, "GET", "/admin/v1/migration"+q, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}
