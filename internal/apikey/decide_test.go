package apikey

import (
	"strings"
	"testing"
	"time"
)

func TestDecide_Boundaries(t *testing.T) {
	const ns = time.Nanosecond
	tl := referenceTimeline()
	with := func(k Key, f func(*Key)) Key { f(&k); return k }
	expiring := with(tenantKey("acme"), func(k *Key) { k.ExpiresAt = ptr(at("2026-04-01T00:00:00Z")) })

	tests := []struct {
		name       string
		tl         Timeline
		tenant     TenantInfo
		key        Key
		now        time.Time
		code       string
		reason     string
		noSignals  bool       // platform keys and empty timelines carry none
		sunset     *time.Time // expected Sunset when signals are present
		brownoutTo *time.Time
	}{
		{name: "long before deprecation: accepted, future deprecation announced", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: at("2025-06-01T00:00:00Z"), code: CodeAccepted, reason: reasonAccepted},
		{name: "one ns before deprecated_at: plain accepted", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tDeprecated.Add(-ns), code: CodeAccepted, reason: reasonAccepted},
		{name: "exactly at deprecated_at: accepted as deprecated", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tDeprecated, code: CodeAccepted, reason: reasonAcceptedDeprecated},
		{name: "one ns before keys_off_at: accepted", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tKeysOff.Add(-ns), code: CodeAccepted, reason: reasonAcceptedDeprecated},
		{name: "exactly at keys_off_at: sunset", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tKeysOff, code: CodeSunset},
		{name: "a year after keys_off_at: sunset", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tKeysOff.AddDate(1, 0, 0), code: CodeSunset},
		{name: "extended tenant at global keys_off_at: accepted, sunset is its extension", tl: tl, tenant: late, key: tenantKey("late"),
			now: tKeysOff, code: CodeAccepted, reason: reasonAcceptedDeprecated, sunset: ptr(tExtended)},
		{name: "extended tenant one ns before its extension: accepted", tl: tl, tenant: late, key: tenantKey("late"),
			now: tExtended.Add(-ns), code: CodeAccepted, sunset: ptr(tExtended)},
		{name: "extended tenant exactly at its extension: sunset", tl: tl, tenant: late, key: tenantKey("late"),
			now: tExtended, code: CodeSunset, sunset: ptr(tExtended)},
		{name: "one ns before global brownout: accepted", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tGlobalBrownStart.Add(-ns), code: CodeAccepted},
		{name: "global brownout start is inclusive", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tGlobalBrownStart, code: CodeBrownout, brownoutTo: ptr(tGlobalBrownEnd)},
		{name: "one ns before global brownout end: still brownout", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tGlobalBrownEnd.Add(-ns), code: CodeBrownout, brownoutTo: ptr(tGlobalBrownEnd)},
		{name: "global brownout end is exclusive", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tGlobalBrownEnd, code: CodeAccepted},
		{name: "extension exempts from a global brownout", tl: tl, tenant: late, key: tenantKey("late"),
			now: tGlobalBrownStart, code: CodeAccepted, sunset: ptr(tExtended)},
		{name: "brownout naming beta refuses beta", tl: tl, tenant: beta, key: tenantKey("beta"),
			now: tBetaBrownStart, code: CodeBrownout, brownoutTo: ptr(tBetaBrownEnd)},
		{name: "brownout naming beta leaves another tenant alone", tl: tl, tenant: acme, key: tenantKey("acme"),
			now: tBetaBrownStart, code: CodeAccepted},
		{name: "brownout naming an extended tenant applies after the global sunset", tl: tl, tenant: late, key: tenantKey("late"),
			now: tLateBrownStart, code: CodeBrownout, sunset: ptr(tExtended), brownoutTo: ptr(tLateBrownEnd)},
		{name: "extended tenant after its named brownout: accepted", tl: tl, tenant: late, key: tenantKey("late"),
			now: tLateBrownEnd, code: CodeAccepted, sunset: ptr(tExtended)},
		{name: "platform key in a global brownout: accepted without signals", tl: tl, tenant: acme, key: platformKey("acme"),
			now: tGlobalBrownStart, code: CodeAccepted, reason: reasonPlatform, noSignals: true},
		{name: "platform key after keys_off_at: accepted without signals", tl: tl, tenant: acme, key: platformKey("acme"),
			now: tKeysOff.AddDate(2, 0, 0), code: CodeAccepted, reason: reasonPlatform, noSignals: true},
		{name: "disabled platform key: refused as disabled", tl: tl, tenant: acme,
			key: with(platformKey("acme"), func(k *Key) { k.Status = StatusDisabled }),
			now: tDeprecated, code: CodeDisabled, noSignals: true},
		{name: "expired platform key: refused as expired", tl: tl, tenant: acme,
			key: with(platformKey("acme"), func(k *Key) { k.ExpiresAt = ptr(at("2026-01-01T00:00:00Z")) }),
			now: at("2026-01-01T00:00:00Z"), code: CodeExpired, noSignals: true},
		{name: "disabled tenant key before deprecation: disabled, with signals", tl: tl, tenant: acme,
			key: with(tenantKey("acme"), func(k *Key) { k.Status = StatusDisabled }),
			now: at("2025-01-01T00:00:00Z"), code: CodeDisabled, reason: reasonDisabled},
		{name: "revoked key: disabled", tl: tl, tenant: acme,
			key: with(tenantKey("acme"), func(k *Key) { k.Status = StatusRevoked }),
			now: tDeprecated, code: CodeDisabled},
		{name: "unknown status fails closed as disabled", tl: tl, tenant: acme,
			key: with(tenantKey("acme"), func(k *Key) { k.Status = "" }),
			now: tDeprecated, code: CodeDisabled},
		{name: "disabled key in a brownout: disabled wins", tl: tl, tenant: acme,
			key: with(tenantKey("acme"), func(k *Key) { k.Status = StatusDisabled }),
			now: tGlobalBrownStart, code: CodeDisabled},
		{name: "one ns before expiry midnight: accepted", tl: tl, tenant: acme, key: expiring,
			now: at("2026-04-01T00:00:00Z").Add(-ns), code: CodeAccepted},
		{name: "exactly at expiry midnight: expired", tl: tl, tenant: acme, key: expiring,
			now: at("2026-04-01T00:00:00Z"), code: CodeExpired, reason: reasonExpired},
		{name: "expired and past sunset: expiry, the key's own state, wins", tl: tl, tenant: acme, key: expiring,
			now: tKeysOff, code: CodeExpired},
		{name: "unknown owner fails closed as a tenant key", tl: tl, tenant: acme,
			key: with(tenantKey("acme"), func(k *Key) { k.Owner = "" }),
			now: tKeysOff, code: CodeSunset},
		{name: "empty timeline: accepted without signals", tl: Timeline{}, tenant: acme, key: tenantKey("acme"),
			now: tKeysOff, code: CodeAccepted, reason: reasonAccepted, noSignals: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.tl, tt.tenant, tt.key, tt.now)
			if d.Code != tt.code {
				t.Fatalf("Code = %q, want %q (reason %q)", d.Code, tt.code, d.Reason)
			}
			if d.Accepted != (tt.code == CodeAccepted) {
				t.Errorf("Accepted = %v for %s", d.Accepted, d.Code)
			}
			if tt.reason != "" && d.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", d.Reason, tt.reason)
			}
			if d.Reason == "" {
				t.Error("Reason is empty")
			}
			wantDep, wantSunset := ptr(tDeprecated), ptr(tKeysOff)
			if tt.sunset != nil {
				wantSunset = tt.sunset
			}
			if tt.noSignals {
				wantDep, wantSunset = nil, nil
			}
			timeEq(t, "Deprecation", d.Deprecation, wantDep)
			timeEq(t, "Sunset", d.Sunset, wantSunset)
			timeEq(t, "BrownoutEnd", d.BrownoutEnd, tt.brownoutTo)
		})
	}
}

func TestUnknown_NoSignals(t *testing.T) {
	d := Unknown()
	if d.Code != CodeUnknown || d.Accepted || d.Reason == "" || d.Sunset != nil || d.Deprecation != nil {
		t.Errorf("Unknown() = %+v", d)
	}
}

func TestDecideCreate_Boundaries(t *testing.T) {
	const ns = time.Nanosecond
	tl := referenceTimeline()
	tests := []struct {
		name   string
		tl     Timeline
		tenant TenantInfo
		owner  Owner
		now    time.Time
		code   string
	}{
		{"existing tenant before no_new_keys_at: allowed", tl, acme, OwnerTenant, tDeprecated, CreateAllowed},
		{"existing tenant one ns before no_new_keys_at: allowed", tl, acme, OwnerTenant, tNoNewKeys.Add(-ns), CreateAllowed},
		{"existing tenant exactly at no_new_keys_at: refused", tl, acme, OwnerTenant, tNoNewKeys, CreateNoNewKeys},
		{"tenant created one second after tenant_oauth_only_after: refused", tl, newco, OwnerTenant, tOAuthOnly.Add(time.Hour), CreateTenantOAuthOnly},
		{"tenant created exactly at tenant_oauth_only_after: existing, allowed", tl,
			TenantInfo{ID: "edge", CreatedAt: tOAuthOnly}, OwnerTenant, tOAuthOnly.Add(time.Hour), CreateAllowed},
		{"tenant without a creation date counts as existing", tl, TenantInfo{ID: "old"}, OwnerTenant, tDeprecated, CreateAllowed},
		{"new tenant after no_new_keys_at: no_new_keys, the broader reason", tl, newco, OwnerTenant, tNoNewKeys, CreateNoNewKeys},
		{"existing tenant at keys_off_at: keys_off", tl, acme, OwnerTenant, tKeysOff, CreateKeysOff},
		{"extended tenant between global and its own keys_off: no_new_keys", tl, late, OwnerTenant, tKeysOff, CreateNoNewKeys},
		{"extended tenant at its own keys_off: keys_off", tl, late, OwnerTenant, tExtended, CreateKeysOff},
		{"platform key for a new tenant after keys_off: allowed", tl, newco, OwnerPlatform, tExtended, CreateAllowed},
		{"empty timeline: allowed", Timeline{}, newco, OwnerTenant, tExtended, CreateAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecideCreate(tt.tl, tt.tenant, tt.owner, tt.now)
			if d.Code != tt.code || d.Allowed != (tt.code == CreateAllowed) || d.Reason == "" {
				t.Errorf("DecideCreate = %+v, want code %q", d, tt.code)
			}
		})
	}
}

func TestUnusedDisable(t *testing.T) {
	tl := referenceTimeline() // 90 days
	period := 90 * 24 * time.Hour
	never := tenantKey("acme") // created 2024-06-01, never used
	usedAt := func(u time.Time) Key { k := tenantKey("acme"); k.LastUsedAt = &u; return k }
	with := func(f func(*Key)) Key { k := tenantKey("acme"); f(&k); return k }
	off := tl
	off.DisableUnusedAfterDays = 0
	noDep := tl
	noDep.DeprecatedAt = nil

	tests := []struct {
		name     string
		tl       Timeline
		key      Key
		lastUsed time.Time
		now      time.Time
		want     bool
	}{
		{"rule off (0 days)", off, never, time.Time{}, tDeprecated.AddDate(5, 0, 0), false},
		{"no deprecation announced", noDep, never, time.Time{}, tDeprecated.AddDate(5, 0, 0), false},
		{"before deprecated_at, even if idle for years", tl, never, time.Time{}, tDeprecated.Add(-time.Nanosecond), false},
		{"never used: one ns before deprecated_at + period", tl, never, time.Time{}, tDeprecated.Add(period - 1), false},
		{"never used: exactly deprecated_at + period", tl, never, time.Time{}, tDeprecated.Add(period), true},
		{"created after deprecation, never used: counts from creation", tl,
			with(func(k *Key) { k.CreatedAt = tNoNewKeys.Add(-time.Hour) }), time.Time{}, tDeprecated.Add(period), false},
		{"stored last use recent", tl, usedAt(tDeprecated.Add(period / 2)), time.Time{}, tDeprecated.Add(period), false},
		{"stored last use exactly one period ago", tl, usedAt(tDeprecated.Add(time.Hour)), time.Time{}, tDeprecated.Add(time.Hour + period), true},
		{"in-memory use newer than stored", tl, usedAt(tDeprecated), tDeprecated.Add(period / 2), tDeprecated.Add(period), false},
		{"platform key is never disabled", tl, platformKey("acme"), time.Time{}, tDeprecated.AddDate(1, 0, 0), false},
		{"already disabled key", tl, with(func(k *Key) { k.Status = StatusDisabled }), time.Time{}, tDeprecated.AddDate(1, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnusedDisable(tt.tl, tt.key, tt.lastUsed, tt.now); got != tt.want {
				t.Errorf("UnusedDisable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecide_DoesNotAllocate(t *testing.T) {
	tl := referenceTimeline()
	keys := []struct {
		tenant TenantInfo
		key    Key
		now    time.Time
	}{
		{acme, tenantKey("acme"), tDeprecated},
		{acme, tenantKey("acme"), tGlobalBrownStart},
		{late, tenantKey("late"), tKeysOff},
		{acme, tenantKey("acme"), tKeysOff},
		{acme, platformKey("acme"), tKeysOff},
	}
	for _, c := range keys {
		if n := testing.AllocsPerRun(100, func() { _ = Decide(tl, c.tenant, c.key, c.now) }); n != 0 {
			t.Errorf("Decide allocates %v times at %s", n, c.now)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	tl := referenceTimeline()
	for i := range 20 { // a realistic number of extensions to scan
		tl.Extensions = append(tl.Extensions, Extension{Tenant: "tenant-" + string(rune('a'+i)), KeysOffAt: tExtended, Reason: "r"})
	}
	cases := []struct {
		name   string
		tenant TenantInfo
		key    Key
		now    time.Time
	}{
		{"accepted_deprecated", acme, tenantKey("acme"), tDeprecated.Add(time.Hour)},
		{"brownout", acme, tenantKey("acme"), tGlobalBrownStart},
		{"sunset", acme, tenantKey("acme"), tKeysOff},
		{"platform", acme, platformKey("acme"), tKeysOff},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				_ = Decide(tl, c.tenant, c.key, c.now)
			}
			reportCPU(b, cpu)
		})
	}
}

func TestResult_Description_AddsTheDates(t *testing.T) {
	tl := referenceTimeline()
	tests := []struct {
		name    string
		d       Decision
		descHas []string
	}{
		{"sunset", Decide(tl, acme, tenantKey("acme"), tKeysOff),
			[]string{"OAuth 2.0 client", "stopped being accepted at 2026-07-01T00:00:00Z"}},
		{"brownout says when it ends and when keys go for good", Decide(tl, acme, tenantKey("acme"), tGlobalBrownStart),
			[]string{"brownout ends at 2026-05-12T17:00:00Z", "for good at 2026-07-01T00:00:00Z"}},
		{"disabled platform key", Decision{Code: CodeDisabled, Reason: reasonDisabled}, []string{"disabled"}},
		{"unknown key", Unknown(), []string{"not known"}},
		{"no reason", Decision{Code: CodeDisabled}, []string{"The API key is refused."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc := Result{Decision: tt.d}.Description()
			for _, s := range tt.descHas {
				if !strings.Contains(desc, s) {
					t.Errorf("Description() = %q, lacks %q", desc, s)
				}
			}
		})
	}
}
