package apikey

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// keyUse is one expected check of the end-to-end test.
type keyUse struct {
	name   string
	key    string // which key of the fixture
	now    time.Time
	want   string
	reason string // optional: the exact reason
}

// TestService_DecisionsAcrossMilestonesAndUsageSurvivesRestart checks keys of
// several tenants at dates before and after every milestone of the
// reference timeline, then checks that the stored usage equals the calls
// made, after a flush and after a restart on the same file.
func TestService_DecisionsAcrossMilestonesAndUsageSurvivesRestart(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	for _, tn := range []TenantInfo{acme, beta, late} {
		e.tenant(tn.ID, tn.CreatedAt)
	}
	e.setTimeline(referenceTimeline())
	ids, secrets := map[string]string{}, map[string]string{}
	add := func(name, tenant string, mod ...func(*store.APIKey)) {
		ids[name], secrets[name] = e.key(tenant, mod...)
	}
	add("acme", "acme")
	add("beta", "beta")
	add("late", "late")
	add("platform", "acme", func(k *store.APIKey) { k.Owner, k.Purpose = store.OwnerPlatform, "sftp-loader" })
	add("expiring", "acme", func(k *store.APIKey) { k.ExpiresAt = ptr(at("2026-04-01T00:00:00Z")) })
	e.eventually("timeline loaded", func() bool { return e.svc.timeline.Load().KeysOffAt != nil })

	s := time.Second
	uses := []keyUse{
		{"before deprecation", "acme", at("2026-02-01T00:00:00Z"), CodeAccepted, reasonAccepted},
		{"at deprecation", "acme", tDeprecated, CodeAccepted, reasonAcceptedDeprecated},
		{"global brownout starts", "acme", tGlobalBrownStart, CodeBrownout, ""},
		{"global brownout ends", "acme", tGlobalBrownEnd, CodeAccepted, ""},
		{"extended tenant in global brownout", "late", tGlobalBrownStart, CodeAccepted, ""},
		{"beta's own brownout", "beta", tBetaBrownStart, CodeBrownout, ""},
		{"acme during beta's brownout", "acme", tBetaBrownStart, CodeAccepted, ""},
		{"just before keys off", "acme", tKeysOff.Add(-s), CodeAccepted, ""},
		{"at keys off", "acme", tKeysOff, CodeSunset, ""},
		{"extended tenant at global keys off", "late", tKeysOff, CodeAccepted, ""},
		{"extended tenant's own brownout", "late", tLateBrownStart, CodeBrownout, ""},
		{"extended tenant at its keys off", "late", tExtended, CodeSunset, ""},
		{"platform key after keys off", "platform", tExtended, CodeAccepted, reasonPlatform},
		{"day before expiry", "expiring", at("2026-03-31T23:59:59Z"), CodeAccepted, ""},
		{"at expiry", "expiring", at("2026-04-01T00:00:00Z"), CodeExpired, ""},
	}
	calls := map[string]map[string]int64{} // key → code → calls
	checkAll := func(e *svcEnv) {
		for _, u := range uses {
			e.clock.Set(u.now)
			r := e.check(secrets[u.key])
			if r.Decision.Code != u.want || (u.reason != "" && r.Decision.Reason != u.reason) {
				t.Errorf("%s: got %s (%q), want %s %q", u.name, r.Decision.Code, r.Decision.Reason, u.want, u.reason)
			}
			if r.Key.ID != ids[u.key] || r.Decision.Accepted != (u.want == CodeAccepted) {
				t.Errorf("%s: key %q accepted %v", u.name, r.Key.ID, r.Decision.Accepted)
			}
			if calls[u.key] == nil {
				calls[u.key] = map[string]int64{}
			}
			calls[u.key][u.want]++
		}
	}
	checkAll(e)
	if err := e.svc.Flush(e.ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	assertUsage(t, e, ids, calls)

	// Restart on the same file: the counts add up, and the final flush at
	// shutdown writes what was counted since the last one.
	e.stop()
	e2 := newSvcEnv(t, e.path, e.clock)
	checkAll(e2)
	e2.stop()
	e3 := newSvcEnv(t, e.path, e.clock)
	assertUsage(t, e3, ids, calls)
}

func assertUsage(t *testing.T, e *svcEnv, ids map[string]string, calls map[string]map[string]int64) {
	t.Helper()
	for name, byCode := range calls {
		accepted, refused := e.usage(ids[name])
		want := maps.Clone(byCode)
		if accepted != want[CodeAccepted] {
			t.Errorf("key %s: accepted %d, want %d", name, accepted, want[CodeAccepted])
		}
		delete(want, CodeAccepted)
		if !maps.Equal(refused, want) {
			t.Errorf("key %s: refused %v, want %v", name, refused, want)
		}
	}
}

func TestService_SignalsAndGuideURL(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	tl := referenceTimeline()
	e.setTimeline(tl)
	_, secret := e.key("acme")
	e.eventually("timeline loaded", func() bool { return e.svc.timeline.Load().KeysOffAt != nil })
	e.clock.Set(tKeysOff)
	r := e.check(secret)
	if d := r.Decision; d.Sunset == nil || !d.Sunset.Equal(tKeysOff) || d.Deprecation == nil || !d.Deprecation.Equal(tDeprecated) {
		t.Errorf("signals: deprecation %v, sunset %v; want %v, %v", d.Deprecation, d.Sunset, tDeprecated, tKeysOff)
	}
	if r.GuideURL != tl.MigrationGuideURL {
		t.Errorf("guide = %q, want the timeline's", r.GuideURL)
	}
	if d := r.Description(); d == r.Decision.Reason {
		t.Errorf("description %q does not add the sunset date", d)
	}

	// A timeline without a guide falls back to the configured one.
	tl.MigrationGuideURL = ""
	e.setTimeline(tl)
	e.eventually("guide fallback", func() bool { return e.check(secret).GuideURL == "https://docs.example.com/fallback" })
}

func TestService_ChangesApplyWithinASecond(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *svcEnv, keyID string)
		want   string
	}{
		{"key disabled", func(e *svcEnv, id string) {
			e.updateKey(id, func(k *store.APIKey) { k.Status = store.StatusDisabled })
		}, CodeDisabled},
		{"key revoked", func(e *svcEnv, id string) {
			e.updateKey(id, func(k *store.APIKey) { k.Status = store.StatusRevoked })
		}, CodeDisabled},
		{"key expiry set in the past", func(e *svcEnv, id string) {
			e.updateKey(id, func(k *store.APIKey) { k.ExpiresAt = ptr(at("2026-01-01T00:00:00Z")) })
		}, CodeExpired},
		{"key deleted", func(e *svcEnv, id string) {
			e.tx(func(tx store.Tx) error { return tx.DeleteAPIKey(e.ctx, id) })
		}, CodeUnknown},
		{"tenant disabled", func(e *svcEnv, _ string) {
			e.tx(func(tx store.Tx) error {
				return tx.UpdateTenant(e.ctx, "acme", func(t store.Tenant) (store.Tenant, error) {
					t.Status = store.StatusDisabled
					return t, nil
				})
			})
		}, CodeDisabled},
		{"tenant deleted", func(e *svcEnv, _ string) {
			e.tx(func(tx store.Tx) error { return tx.DeleteTenant(e.ctx, "acme") })
		}, CodeUnknown},
		{"timeline sunset moved before now", func(e *svcEnv, _ string) {
			tl := Timeline{DeprecatedAt: ptr(at("2025-01-01T00:00:00Z")), KeysOffAt: ptr(at("2025-06-01T00:00:00Z"))}
			e.setTimeline(tl)
		}, CodeSunset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSvcEnv(t, "", nil)
			e.tenant("acme", acme.CreatedAt)
			id, secret := e.key("acme")
			if got := e.check(secret).Decision.Code; got != CodeAccepted { // now cached
				t.Fatalf("before the change: %s", got)
			}
			tt.change(e, id)
			e.eventually(tt.name+" → "+tt.want, func() bool { return e.check(secret).Decision.Code == tt.want })
		})
	}
}

func TestService_UnknownKeysUseTheNegativeCache(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	secret := Generate()
	for range 3 {
		if r := e.check(secret); r.Decision.Code != CodeUnknown || r.Key.ID != "" {
			t.Fatalf("unknown key: %+v", r)
		}
	}
	if n := e.metric("lookups", "unknown"); n != 1 {
		t.Errorf("store asked %v times about one unknown key, want 1", n)
	}
	if n := e.metric("checks", "", CodeUnknown); n != 3 {
		t.Errorf("unknown checks metric = %v, want 3", n)
	}

	// The negative entry expires after NegativeTTL.
	e.clock.Set(e.clock.Now().Add(31 * time.Second))
	e.check(secret)
	if n := e.metric("lookups", "unknown"); n != 2 {
		t.Errorf("store asked %v times after the TTL, want 2", n)
	}

	// A key created with that secret is found at once, not after the TTL.
	h := Hash(secret)
	id, _ := e.key("acme", func(k *store.APIKey) { k.Hash = h[:] })
	e.eventually("new key found", func() bool { return e.check(secret).Key.ID == id })
	if n := e.metric("checks", "acme", CodeAccepted); n < 1 {
		t.Errorf("accepted checks of acme = %v", n)
	}

	// Malformed values never reach the store.
	before := e.metric("lookups", "unknown")
	for _, v := range []string{"", "short", "ksk_" + string(make([]byte, 40)), Generate()[:50] + "x"} {
		if r := e.check(v); r.Decision.Code != CodeUnknown {
			t.Errorf("malformed %q: %s", v, r.Decision.Code)
		}
	}
	if n := e.metric("lookups", "unknown"); n != before {
		t.Errorf("malformed keys reached the store")
	}
}

func TestService_StoreOutage_CheckErrorsAndFlushKeepsCounts(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	id, secret := e.key("acme")
	for range 5 {
		e.check(secret)
	}
	e.st.failTx.Store(true)
	if err := e.svc.Flush(e.ctx); err == nil {
		t.Fatal("flush during an outage succeeded")
	}
	for range 2 {
		e.check(secret)
	}
	if err := e.svc.Flush(e.ctx); err == nil {
		t.Fatal("second flush during an outage succeeded")
	}
	e.st.failTx.Store(false)
	e.check(secret)
	if err := e.svc.Flush(e.ctx); err != nil {
		t.Fatalf("flush after the outage: %v", err)
	}
	if accepted, _ := e.usage(id); accepted != 8 {
		t.Errorf("stored %d uses, want 8: counts of failed flushes were lost or doubled", accepted)
	}

	// A store that cannot be read is an error, not an unknown key.
	_ = e.st.Store.Close()
	if _, err := e.svc.Check(e.ctx, Generate(), RequestInfo{}); err == nil {
		t.Error("check with a closed store: no error")
	}
}

func TestService_StartTwice_Refused(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	if err := e.svc.Start(e.ctx); err == nil {
		t.Error("second Start succeeded")
	}
}

func TestHashKey_EqualsHash(t *testing.T) {
	for _, k := range []string{Generate(), "LegacyKey0000000000000000000000000000042", string(make([]byte, MaxKeyLen))} {
		if hashKey(k) != Hash(k) {
			t.Errorf("hashKey(%q) differs from Hash", k)
		}
	}
}

// TestService_ConcurrentChecksFlushesAndChanges runs checks from many
// goroutines while keys change and usage is flushed: the race detector
// watches the cache, and every call is counted exactly once.
func TestService_ConcurrentChecksFlushesAndChanges(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	const keys, workers, calls = 4, 8, 50
	ids, secrets := make([]string, keys), make([]string, keys)
	for i := range keys {
		ids[i], secrets[i] = e.key("acme")
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				if _, err := e.svc.Check(e.ctx, secrets[(w+i)%keys], RequestInfo{Route: "GET /x"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 5 {
		e.updateKey(ids[i%keys], func(k *store.APIKey) { k.Description = fmt.Sprint(i) })
		if err := e.svc.Flush(e.ctx); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if err := e.svc.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, id := range ids {
		n, _ := e.usage(id)
		total += n
	}
	if total != workers*calls {
		t.Errorf("stored %d uses, want %d", total, workers*calls)
	}
}

// FuzzCheck: whatever the header holds, Check answers without error, and
// accepts exactly the stored key (with optional surrounding blanks).
func FuzzCheck(f *testing.F) {
	e := newSvcEnv(f, "", nil)
	e.tenant("acme", acme.CreatedAt)
	_, secret := e.key("acme")
	for _, s := range []string{secret, " " + secret + "\t", secret[:len(secret)-1], secret + "x", "",
		"LegacyKey0000000000000000000000000000042", "ksk_", "\x00\x01", string(make([]byte, 600))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r, err := e.svc.Check(e.ctx, v, RequestInfo{})
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		want := strings.Trim(v, " \t") == secret && len(v) <= 2*MaxKeyLen
		if r.Decision.Accepted != want {
			t.Fatalf("Check(%q) accepted = %v, want %v", v, r.Decision.Accepted, want)
		}
	})
}
