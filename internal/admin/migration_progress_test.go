package admin

import (
	"context"
	"maps"
	"testing"
	"time"
)

// TestMigrationProgress_MigratedSince: a tenant counts as migrated from the
// change to its keys that left none active, or from its creation when it
// never had a key; a tenant admin sees only its own tenant.
func TestMigrationProgress_MigratedSince(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustCreateKey(t, "acme", CreateKeyRequest{}) // acme keeps an active key
	g := e.mustCreateKey(t, "globex", CreateKeyRequest{})
	e.clock.Add(time.Hour)
	if _, err := e.api.CreateTenant(ctx, operator, CreateTenantRequest{ID: "initech", Name: "Initech"}); err != nil {
		t.Fatal(err)
	}
	initechCreated := e.clock.Now().UTC()
	e.clock.Add(24 * time.Hour)
	if _, err := e.api.UpdateKey(ctx, operator, "globex", g.ID, UpdateKeyRequest{Status: ptrTo("disabled")}); err != nil {
		t.Fatal(err)
	}
	globexMigrated := e.clock.Now().UTC()

	got, err := e.api.MigrationProgress(ctx, operator)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Report.Tenants) != 3 {
		t.Errorf("report lists %d tenants, want acme, globex, initech", len(got.Report.Tenants))
	}
	want := map[string]time.Time{"globex": globexMigrated, "initech": initechCreated}
	if !maps.EqualFunc(got.MigratedAt, want, time.Time.Equal) {
		t.Errorf("migrated at %v, want %v", got.MigratedAt, want)
	}

	own, err := e.api.MigrationProgress(ctx, globexAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Report.Tenants) != 1 || own.Report.Tenants[0].Tenant != "globex" ||
		!maps.EqualFunc(own.MigratedAt, map[string]time.Time{"globex": globexMigrated}, time.Time.Equal) {
		t.Errorf("globex admin sees %+v", own)
	}
	if acme, err := e.api.MigrationProgress(ctx, acmeAdmin); err != nil || len(acme.MigratedAt) != 0 || len(acme.Report.Tenants) != 1 {
		t.Errorf("acme admin sees %+v, %v", acme, err)
	}
	_, err = e.api.MigrationProgress(ctx, acmeReader)
	wantNotFound(t, err)
}
