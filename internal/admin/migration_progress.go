package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// MigrationProgress is the migration report now and, for every migrated
// tenant, since when it counts as migrated.
type MigrationProgress struct {
	Report apikey.Report
	// MigratedAt is, per migrated tenant, the last change to one of its
	// own keys (the one that left none active), or its creation if it never
	// had a key.
	MigratedAt map[string]time.Time
}

// MigrationProgress returns the migration report now with when each
// migrated tenant migrated, from the report's own pass over the keys: a
// bounded number of reads whatever the number of tenants. Operators see
// every tenant, a tenant admin only its own.
func (a *API) MigrationProgress(ctx context.Context, p Principal) (MigrationProgress, error) {
	scope := ""
	var tenants []store.Tenant
	if p.IsOperator() {
		all, err := a.st.ListTenants(ctx)
		if err != nil {
			return MigrationProgress{}, fmt.Errorf("list tenants: %w", err)
		}
		tenants = all
	} else {
		t, err := a.GetTenant(ctx, p, p.Tenant)
		if err != nil {
			return MigrationProgress{}, err
		}
		scope, tenants = t.ID, []store.Tenant{t}
	}
	lastChange := map[string]time.Time{}
	rep, err := a.report(ctx, scope, tenants, time.Time{}, func(k store.APIKey) {
		if k.Owner == store.OwnerTenant && k.UpdatedAt.After(lastChange[k.Tenant]) {
			lastChange[k.Tenant] = k.UpdatedAt
		}
	})
	if err != nil {
		return MigrationProgress{}, err
	}
	created := make(map[string]time.Time, len(tenants))
	for _, t := range tenants {
		created[t.ID] = t.CreatedAt
	}
	out := MigrationProgress{Report: rep, MigratedAt: map[string]time.Time{}}
	for _, t := range rep.Tenants {
		if t.Status != apikey.TenantMigrated {
			continue
		}
		at, ok := lastChange[t.Tenant]
		if !ok {
			at = created[t.Tenant]
		}
		out.MigratedAt[t.Tenant] = at
	}
	return out, nil
}
