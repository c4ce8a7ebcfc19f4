package apikey

import (
	"testing"
	"time"
)

func TestKeyUsage_AddDay_Windows(t *testing.T) {
	now := at("2026-11-27T06:00:00Z")
	var u KeyUsage
	for _, d := range []struct {
		day string
		n   int64
	}{
		{"2026-11-27T00:00:00Z", 1},  // today
		{"2026-11-26T00:00:00Z", 2},  // yesterday: 7d, not 1d
		{"2026-11-21T00:00:00Z", 4},  // 6 days ago: last day of 7d
		{"2026-11-20T00:00:00Z", 8},  // 7 days ago: 30d only
		{"2026-10-29T00:00:00Z", 16}, // 29 days ago: last day of 30d
		{"2026-10-28T00:00:00Z", 32}, // 30 days ago: out
		{"2026-11-28T00:00:00Z", 64}, // future: out
	} {
		u.AddDay(at(d.day), d.n, now)
	}
	if want := (KeyUsage{Requests1d: 1, Requests7d: 7, Requests30d: 31}); u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
}

func TestBuildReport_StatusesAndRefusals(t *testing.T) {
	tl := referenceTimeline()
	now := at("2026-06-20T00:00:00Z")
	disabled := tenantKey("beta")
	disabled.ID, disabled.Status = "key_beta_off", StatusDisabled
	converted := tenantKey("beta")
	converted.ID, converted.ConvertedToClient = "key_beta_conv", "ksc_1"
	expired := tenantKey("gone")
	expired.ExpiresAt = ptr(at("2026-01-01T00:00:00Z"))
	quiet := tenantKey("acme")
	quiet.ID = "key_acme_quiet"
	tenants := []ReportTenant{{Info: acme}, {Info: beta}, {Info: late, Clients: 2}, {Info: TenantInfo{ID: "gone"}}, {Info: TenantInfo{ID: "empty"}}}
	keys := []ReportKey{
		{Key: tenantKey("acme"), Usage: KeyUsage{Requests30d: 10}},
		{Key: quiet},
		{Key: platformKey("acme"), Usage: KeyUsage{Requests30d: 99}},
		{Key: disabled},
		{Key: converted, Usage: KeyUsage{Requests30d: 500}},
		{Key: tenantKey("late")},
		{Key: expired},
	}
	cases := []struct {
		name    string
		at      time.Time
		refused map[string][]string // tenant → key IDs, busiest first
	}{
		{"now: nothing refused", now, map[string][]string{}},
		{"after keys off: all but the extended tenant and platform keys", at("2026-07-02T00:00:00Z"),
			map[string][]string{"acme": {"key_acme", "key_acme_quiet"}, "beta": {"key_beta_conv"}}},
		{"during the late brownout", at("2026-08-01T01:00:00Z"),
			map[string][]string{"acme": {"key_acme", "key_acme_quiet"}, "beta": {"key_beta_conv"}, "late": {"key_late"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := BuildReport(tl, now, tc.at, tenants, keys)
			if !rep.At.Equal(tc.at) || len(rep.Tenants) != 5 {
				t.Fatalf("report = %+v", rep)
			}
			by := map[string]TenantReport{}
			for _, tr := range rep.Tenants {
				by[tr.Tenant] = tr
				var ids []string
				for _, k := range tr.WouldBeRefused {
					ids = append(ids, k.KeyID)
				}
				want := tc.refused[tr.Tenant]
				if len(ids) != len(want) || (len(ids) > 0 && ids[0] != want[0]) {
					t.Errorf("%s refused %v, want %v", tr.Tenant, ids, want)
				}
			}
			checks := []struct {
				tenant, status string
				active, inUse  int
			}{
				{"acme", TenantNotStarted, 2, 1},
				{"beta", TenantInProgress, 1, 1},
				{"late", TenantInProgress, 1, 0},
				{"gone", TenantMigrated, 0, 0},
				{"empty", TenantMigrated, 0, 0},
			}
			for _, c := range checks {
				tr := by[c.tenant]
				if tr.Status != c.status || tr.ActiveKeys != c.active || tr.KeysInUse30d != c.inUse {
					t.Errorf("%s = %s active %d in use %d; want %s %d %d", c.tenant, tr.Status, tr.ActiveKeys, tr.KeysInUse30d, c.status, c.active, c.inUse)
				}
			}
			if !by["late"].KeysOffAt.Equal(tExtended) || !by["acme"].KeysOffAt.Equal(tKeysOff) || by["acme"].PlatformKeys != 1 {
				t.Errorf("keys_off_at late %v acme %v", by["late"].KeysOffAt, by["acme"].KeysOffAt)
			}
		})
	}
}

// BenchmarkReportBuilder_AddKey measures the per-key cost of the migration
// report, which an operator runs over every key.
func BenchmarkReportBuilder_AddKey(b *testing.B) {
	tl := referenceTimeline()
	now, later := at("2026-06-20T00:00:00Z"), at("2026-07-02T00:00:00Z")
	rb := NewReportBuilder(tl, now, later)
	for _, id := range []string{"acme", "beta", "late"} {
		rb.AddTenant(TenantInfo{ID: id}, 1)
	}
	keys := []Key{tenantKey("acme"), tenantKey("beta"), tenantKey("late"), platformKey("acme")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rb.AddKey(keys[i%len(keys)], KeyUsage{Requests30d: int64(i)})
		i++
	}
}

func BenchmarkMapPermissions(b *testing.B) {
	cat := make([]CatalogueScope, 0, 200)
	for i := range 200 {
		cat = append(cat, CatalogueScope{Name: "svc.obj" + string(rune('a'+i%26)) + ".r", Permissions: []string{"obj" + string(rune('a'+i%26)) + ":read"}})
	}
	perms := []string{"obja:read", "objb:read", "objz:read", "ledgers:read"}
	b.ReportAllocs()
	for b.Loop() {
		MapPermissions(perms, cat)
	}
}
