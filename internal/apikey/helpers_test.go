package apikey

import (
	"testing"
	"time"
)

// at parses an RFC 3339 time or fails the test binary.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

// Dates of the reference timeline used across tests.
var (
	tDeprecated = at("2026-03-01T00:00:00Z")
	tOAuthOnly  = at("2026-01-15T00:00:00Z")
	tNoNewKeys  = at("2026-05-01T00:00:00Z")
	tKeysOff    = at("2026-07-01T00:00:00Z")
	tExtended   = at("2026-09-01T00:00:00Z")

	// Global brownout, two 3-hour windows style.
	tGlobalBrownStart = at("2026-05-12T14:00:00Z")
	tGlobalBrownEnd   = at("2026-05-12T17:00:00Z")
	// Brownout naming beta only.
	tBetaBrownStart = at("2026-06-10T00:00:00Z")
	tBetaBrownEnd   = at("2026-06-11T00:00:00Z")
	// Brownout naming the extended tenant, after the global sunset.
	tLateBrownStart = at("2026-08-01T00:00:00Z")
	tLateBrownEnd   = at("2026-08-02T00:00:00Z")
)

// referenceTimeline follows the reference transition: deprecation, OAuth only
// for new tenants, no new keys, keys off; a global brownout, one for beta and
// one for the extended tenant "late".
func referenceTimeline() Timeline {
	return Timeline{
		DeprecatedAt:           ptr(tDeprecated),
		TenantOAuthOnlyAfter:   ptr(tOAuthOnly),
		NoNewKeysAt:            ptr(tNoNewKeys),
		KeysOffAt:              ptr(tKeysOff),
		MigrationGuideURL:      "https://docs.example.com/oauth-migration",
		DisableUnusedAfterDays: 90,
		Brownouts: []Brownout{
			{Start: tGlobalBrownStart, End: tGlobalBrownEnd},
			{Start: tBetaBrownStart, End: tBetaBrownEnd, Tenants: []string{"beta"}},
			{Start: tLateBrownStart, End: tLateBrownEnd, Tenants: []string{"late"}},
		},
		Extensions: []Extension{{
			Tenant: "late", KeysOffAt: tExtended, Reason: "quarterly batch job moves in August",
			GrantedBy: "operator@example.com", GrantedAt: at("2026-06-01T09:00:00Z"),
		}},
	}
}

var (
	acme  = TenantInfo{ID: "acme", CreatedAt: at("2024-02-01T00:00:00Z")}
	beta  = TenantInfo{ID: "beta", CreatedAt: at("2024-03-01T00:00:00Z")}
	late  = TenantInfo{ID: "late", CreatedAt: at("2023-01-01T00:00:00Z")}
	newco = TenantInfo{ID: "newco", CreatedAt: tOAuthOnly.Add(time.Second)}
)

func tenantKey(tenant string) Key {
	return Key{ID: "key_" + tenant, Tenant: tenant, Name: "erp sync", Owner: OwnerTenant,
		Status: StatusActive, Permissions: []string{"invoices:read"}, CreatedAt: at("2024-06-01T00:00:00Z")}
}

func platformKey(tenant string) Key {
	k := tenantKey(tenant)
	k.ID, k.Owner, k.Purpose, k.Permissions = "key_platform_"+tenant, OwnerPlatform, "sftp-loader", nil
	return k
}

func timeEq(t *testing.T, field string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", field, got, want)
	case !got.Equal(*want):
		t.Errorf("%s = %s, want %s", field, got, want)
	}
}
