package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// today is midnight UTC of testStart's day.
var today = testStart.Truncate(24 * time.Hour)

// seedTraffic stores key usage and token usage of acme and globex around
// today, as the flushers would.
func seedTraffic(t *testing.T, e *env) {
	t.Helper()
	day := func(n int) time.Time { return today.AddDate(0, 0, n) }
	keys := []store.UsageDelta{
		{KeyID: "k1", Tenant: "acme", Day: day(0), Accepted: 10, Refused: map[string]int64{"api_key_brownout": 2, "api_key_sunset": 1}},
		{KeyID: "k2", Tenant: "acme", Day: day(0), Accepted: 5},
		{KeyID: "k1", Tenant: "acme", Day: day(-2), Accepted: 7},
		{KeyID: "k1", Tenant: "acme", Day: day(-4), Refused: map[string]int64{"api_key_disabled": 4}},
		{KeyID: "k1", Tenant: "acme", Day: day(-5), Accepted: 1000}, // before a 5-day window
		{KeyID: "k1", Tenant: "acme", Day: day(1), Accepted: 1000},  // after it (a clock set back)
		{KeyID: "g1", Tenant: "globex", Day: day(0), Accepted: 100},
	}
	tokens := []store.TokenUsageDelta{
		{Tenant: "acme", ClientID: "c1", Day: day(0), Requests: 20},
		{Tenant: "acme", ClientID: "c2", Day: day(0), Requests: 3},
		{Tenant: "acme", ClientID: "c1", Day: day(-1), Requests: 9},
		{Tenant: "acme", ClientID: "c1", Day: day(-5), Requests: 1000},
		{Tenant: "globex", ClientID: "g", Day: day(-1), Requests: 200},
	}
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return errors.Join(tx.AddUsage(context.Background(), keys), tx.AddTokenUsage(context.Background(), tokens))
	})
	if err != nil {
		t.Fatalf("seed traffic: %v", err)
	}
}

// counts is a traffic window as [key, token] pairs, oldest day first.
type counts [][2]int64

func countsOf(t *testing.T, days []TrafficDay) counts {
	t.Helper()
	first := today.AddDate(0, 0, 1-len(days))
	var out counts
	for i, d := range days {
		if want := first.AddDate(0, 0, i); !d.Day.Equal(want) || d.Day.Location() != time.UTC {
			t.Fatalf("day %d is %v, want %v (oldest first, midnight UTC, ending today)", i, d.Day, want)
		}
		out = append(out, [2]int64{d.KeyRequests, d.TokenRequests})
	}
	return out
}

func TestTraffic_LastDays_ZeroFilledOldestFirst(t *testing.T) {
	e := newEnv(t)
	seedTraffic(t, e)
	tests := []struct {
		name string
		days int
		want counts
	}{
		// today-4 … today: refusals count as key requests; days outside
		// the window and other tenants' traffic do not count.
		{"five days", 5, counts{{4, 0}, {0, 0}, {7, 0}, {0, 9}, {18, 23}}},
		{"today only", 1, counts{{18, 23}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.api.Traffic(context.Background(), acmeAdmin, "acme", tc.days)
			if err != nil {
				t.Fatal(err)
			}
			if c := countsOf(t, got); !slices.Equal(c, tc.want) {
				t.Errorf("traffic = %v, want %v", c, tc.want)
			}
		})
	}
	t.Run("no traffic at all: every day zero", func(t *testing.T) {
		got, err := e.api.Traffic(context.Background(), operator, store.PlatformTenant, DefaultTrafficDays)
		if err != nil {
			t.Fatal(err)
		}
		if c := countsOf(t, got); len(c) != DefaultTrafficDays || slices.ContainsFunc(c, func(p [2]int64) bool { return p != [2]int64{} }) {
			t.Errorf("traffic of a quiet tenant = %v, want %d zero days", c, DefaultTrafficDays)
		}
	})
}

func TestTraffic_TenantIsolation(t *testing.T) {
	e := newEnv(t)
	seedTraffic(t, e)
	acme := counts{{0, 0}, {7, 0}, {0, 9}, {18, 23}}
	tests := []struct {
		name   string
		p      Principal
		tenant string
		want   counts // nil: not found
	}{
		{"tenant admin, own tenant", acmeAdmin, "acme", acme},
		{"tenant admin, no tenant means its own", acmeAdmin, "", acme},
		{"tenant admin, other tenant", acmeAdmin, "globex", nil},
		{"tenant admin, missing tenant", acmeAdmin, "nope", nil},
		{"platform tenant admin is no operator", platformAdmin, "acme", nil},
		{"operator, one tenant", operator, "globex", counts{{0, 0}, {0, 0}, {0, 200}, {100, 0}}},
		{"operator, every tenant", operator, "", counts{{0, 0}, {7, 0}, {0, 209}, {118, 23}}},
		{"operator, missing tenant", operator, "nope", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.api.Traffic(context.Background(), tc.p, tc.tenant, 4)
			if tc.want == nil {
				var p *Problem
				if !errors.As(err, &p) || p.Status != http.StatusNotFound || p.Type != problemTypeBase+"not-found" {
					t.Fatalf("Traffic = %v, %v; want the not-found problem", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c := countsOf(t, got); !slices.Equal(c, tc.want) {
				t.Errorf("traffic = %v, want %v", c, tc.want)
			}
		})
	}
}

func TestTraffic_DaysOutOfRange_ValidationProblem(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		days int
		ok   bool
	}{{-1, false}, {0, false}, {1, true}, {MaxTrafficDays, true}, {MaxTrafficDays + 1, false}}
	for _, tc := range tests {
		got, err := e.api.Traffic(context.Background(), operator, "acme", tc.days)
		if tc.ok {
			if err != nil || len(got) != tc.days {
				t.Errorf("Traffic(days=%d) = %d days, %v; want %d days", tc.days, len(got), err, tc.days)
			}
			continue
		}
		var p *Problem
		if !errors.As(err, &p) || p.Status != http.StatusBadRequest || !slices.Equal(fieldsOf(*p), []string{"days"}) {
			t.Errorf("Traffic(days=%d) error = %v, want a validation problem on days", tc.days, err)
		}
	}
}

func TestTrafficHTTP(t *testing.T) {
	e := newEnv(t)
	seedTraffic(t, e)
	tests := []struct {
		name       string
		token      string
		path       string
		status     int
		tenant     string   // of the report
		days       int      // in the report
		today      [2]int64 // key and token requests of today
		badField   string   // of a 400
		problemTyp string
	}{
		{"tenant route", tokAcme, "/admin/v1/tenants/acme/traffic?days=3", 200, "acme", 3, [2]int64{18, 23}, "", ""},
		{"default is 90 days", tokAcme, "/admin/v1/tenants/acme/traffic", 200, "acme", 90, [2]int64{18, 23}, "", ""},
		{"operator, every tenant", tokOperator, "/admin/v1/traffic?days=2", 200, "", 2, [2]int64{118, 23}, "", ""},
		{"tenant admin on the all-tenants route sees its own", tokGlobex, "/admin/v1/traffic?days=2", 200, "globex", 2, [2]int64{100, 0}, "", ""},
		{"other tenant", tokGlobex, "/admin/v1/tenants/acme/traffic", 404, "", 0, [2]int64{}, "", "not-found"},
		{"days not a number", tokAcme, "/admin/v1/tenants/acme/traffic?days=ninety", 400, "", 0, [2]int64{}, "days", "validation"},
		{"days empty", tokAcme, "/admin/v1/tenants/acme/traffic?days=", 400, "", 0, [2]int64{}, "days", "validation"},
		{"days zero", tokAcme, "/admin/v1/tenants/acme/traffic?days=0", 400, "", 0, [2]int64{}, "days", "validation"},
		{"days above a year", tokOperator, "/admin/v1/traffic?days=367", 400, "", 0, [2]int64{}, "days", "validation"},
		{"no token", "", "/admin/v1/traffic", 401, "", 0, [2]int64{}, "", "unauthorized"},
		{"wrong method", tokOperator, "/admin/v1/traffic", 405, "", 0, [2]int64{}, "", "method-not-allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.status == http.StatusMethodNotAllowed {
				method = http.MethodPost
			}
			r := e.call(t, tc.token, method, tc.path, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", r.status, tc.status, r.body)
			}
			if tc.status != http.StatusOK {
				p := r.problem(t)
				if p.Type != problemTypeBase+tc.problemTyp {
					t.Errorf("problem type %q, want %q", p.Type, problemTypeBase+tc.problemTyp)
				}
				if tc.badField != "" && !slices.Equal(fieldsOf(p), []string{tc.badField}) {
					t.Errorf("problem fields %v, want [%s]", fieldsOf(p), tc.badField)
				}
				return
			}
			var rep TrafficReport
			r.decode(t, &rep)
			if rep.Tenant != tc.tenant || len(rep.Days) != tc.days {
				t.Fatalf("report of %q with %d days, want %q with %d", rep.Tenant, len(rep.Days), tc.tenant, tc.days)
			}
			c := countsOf(t, rep.Days)
			if c[len(c)-1] != tc.today {
				t.Errorf("today = %v, want %v", c[len(c)-1], tc.today)
			}
			m := r.json(t)
			day := m["days"].([]any)[len(rep.Days)-1].(map[string]any)
			for _, k := range []string{"day", "key_requests", "token_requests"} {
				if _, ok := day[k]; !ok {
					t.Errorf("day object %v has no %q", day, k)
				}
			}
		})
	}
}
