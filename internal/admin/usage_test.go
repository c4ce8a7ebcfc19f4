package admin

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

// wantNotFound fails unless err is the admin API's not-found problem.
func wantNotFound(t *testing.T, err error) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound || p.Type != problemTypeBase+"not-found" {
		t.Fatalf("err = %v; want the not-found problem", err)
	}
}

func TestKeyActivity_DailySeriesAndTenantIsolation(t *testing.T) {
	e := newEnv(t)
	seedTraffic(t, e)
	ctx := context.Background()
	since := today.AddDate(0, 0, -3)
	for _, p := range []Principal{acmeAdmin, operator} {
		got, err := e.api.KeyActivity(ctx, p, "acme", since, 4)
		if err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"k1", "k2"}) {
			t.Fatalf("%s: keys %v", p.Subject, keys)
		}
		// Days -4 and -5 are before the window, day +1 after it.
		if d := got["k1"].Daily; !slices.Equal(d, []int64{0, 7, 0, 13}) {
			t.Errorf("%s: k1 = %v", p.Subject, d)
		}
		if d := got["k2"].Daily; !slices.Equal(d, []int64{0, 0, 0, 5}) {
			t.Errorf("%s: k2 = %v", p.Subject, d)
		}
	}
	for _, tc := range []struct {
		name   string
		p      Principal
		tenant string
	}{
		{"tenant admin, other tenant", acmeAdmin, "globex"},
		{"platform tenant admin is no operator", platformAdmin, "acme"},
		{"operator, missing tenant", operator, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.api.KeyActivity(ctx, tc.p, tc.tenant, since, 4)
			if got != nil {
				t.Errorf("activity leaked: %v", got)
			}
			wantNotFound(t, err)
		})
	}
}

func TestKeyActivity_UserAgentsMostRecentFirst(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var deltas []store.UsageDelta
	for i, ua := range []string{"a", "b", "a", "c", "d", "e", "f"} {
		deltas = append(deltas, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: today.AddDate(0, 0, -i), Accepted: 1, LastUsedAt: today.AddDate(0, 0, -i), LastUserAgent: ua})
	}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.AddUsage(ctx, deltas) }); err != nil {
		t.Fatal(err)
	}
	got, err := e.api.KeyActivity(ctx, acmeAdmin, "acme", today.AddDate(0, 0, -29), 30)
	if err != nil {
		t.Fatal(err)
	}
	if ua := got["k1"].UserAgents; !slices.Equal(ua, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("user agents %v", ua)
	}
}

func TestKeyRequestsByTenant_OperatorSeesAll_TenantAdminItsOwn(t *testing.T) {
	e := newEnv(t)
	seedTraffic(t, e)
	ctx := context.Background()
	since := today.AddDate(0, 0, -3)
	tests := []struct {
		name string
		p    Principal
		want map[string]int64 // nil: not found
	}{
		// Day -4 is before since; day +1 (a clock set back) counts, as the console always counted it.
		{"operator", operator, map[string]int64{"acme": 7 + 13 + 5 + 1000, "globex": 100}},
		{"tenant admin", acmeAdmin, map[string]int64{"acme": 7 + 13 + 5 + 1000}},
		{"other tenant's admin", globexAdmin, map[string]int64{"globex": 100}},
		{"platform tenant admin is no operator", platformAdmin, map[string]int64{}},
		{"no admin rights", acmeReader, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.api.KeyRequestsByTenant(ctx, tc.p, since)
			if tc.want == nil {
				wantNotFound(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
