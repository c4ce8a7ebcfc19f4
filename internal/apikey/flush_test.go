package apikey

import (
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func TestMergeUsage(t *testing.T) {
	day1, day2 := at("2026-05-12T00:00:00Z"), at("2026-05-13T00:00:00Z")
	t1, t2 := day1.Add(time.Hour), day1.Add(2*time.Hour)
	routes := func(rs ...any) []store.RouteCount {
		var out []store.RouteCount
		for i := 0; i < len(rs); i += 2 {
			out = append(out, store.RouteCount{Route: rs[i].(string), Count: int64(rs[i+1].(int))})
		}
		return out
	}
	tests := []struct {
		name string
		a, b []store.UsageDelta
		want []store.UsageDelta
	}{
		{
			name: "nothing pending: the new deltas as they are",
			b:    []store.UsageDelta{{KeyID: "k1", Day: day1, Accepted: 1}},
			want: []store.UsageDelta{{KeyID: "k1", Day: day1, Accepted: 1}},
		},
		{
			name: "same key and day: counts add, latest use wins, routes add",
			a: []store.UsageDelta{{KeyID: "k1", Tenant: "acme", Day: day1, Accepted: 2,
				Refused: map[string]int64{CodeBrownout: 1}, LastUsedAt: t2, LastIP: "new", Routes: routes("a", 2, "b", 1)}},
			b: []store.UsageDelta{{KeyID: "k1", Tenant: "acme", Day: day1, Accepted: 3,
				Refused: map[string]int64{CodeBrownout: 2, CodeSunset: 1}, LastUsedAt: t1, LastIP: "old", Routes: routes("b", 5)}},
			want: []store.UsageDelta{{KeyID: "k1", Tenant: "acme", Day: day1, Accepted: 5,
				Refused: map[string]int64{CodeBrownout: 3, CodeSunset: 1}, LastUsedAt: t2, LastIP: "new", Routes: routes("b", 6, "a", 2)}},
		},
		{
			name: "different days and keys stay apart, sorted",
			a:    []store.UsageDelta{{KeyID: "k2", Day: day1, Accepted: 1}, {KeyID: "k1", Day: day2, Accepted: 1}},
			b:    []store.UsageDelta{{KeyID: "k1", Day: day1, Accepted: 1}},
			want: []store.UsageDelta{{KeyID: "k1", Day: day1, Accepted: 1}, {KeyID: "k1", Day: day2, Accepted: 1}, {KeyID: "k2", Day: day1, Accepted: 1}},
		},
		{
			name: "a tenant learnt later fills the gap",
			a:    []store.UsageDelta{{KeyID: "k1", Day: day1, Accepted: 1}},
			b:    []store.UsageDelta{{KeyID: "k1", Tenant: "acme", Day: day1, Accepted: 1}},
			want: []store.UsageDelta{{KeyID: "k1", Tenant: "acme", Day: day1, Accepted: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aBefore := fmt.Sprint(tt.a)
			got := MergeUsage(tt.a, tt.b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MergeUsage =\n %+v\nwant\n %+v", got, tt.want)
			}
			if fmt.Sprint(tt.a) != aBefore {
				t.Errorf("MergeUsage modified its input: %v", tt.a)
			}
		})
	}
}

func TestMergeUsage_KeepsTopRoutes(t *testing.T) {
	var a, b store.UsageDelta
	a.KeyID, b.KeyID = "k1", "k1"
	for i := range MaxTopRoutes {
		a.Routes = append(a.Routes, store.RouteCount{Route: fmt.Sprint("a", i), Count: int64(100 + i)})
		b.Routes = append(b.Routes, store.RouteCount{Route: fmt.Sprint("b", i), Count: int64(i + 1)})
	}
	b.Routes[0].Count = 1000
	got := MergeUsage([]store.UsageDelta{a}, []store.UsageDelta{b})
	rs := got[0].Routes
	if len(rs) != MaxTopRoutes || rs[0].Route != "b0" || rs[0].Count != 1000 || rs[len(rs)-1].Count != 101 {
		t.Errorf("routes = %v", rs)
	}
}

func TestToStoreDelta(t *testing.T) {
	d := UsageDelta{KeyID: "k1", Day: at("2026-05-12T00:00:00Z"), Count: 4, Accepted: 1,
		Refusals: map[string]uint64{CodeSunset: 2, "other": 1}, LastUsedAt: at("2026-05-12T09:00:00Z"),
		LastIP: "203.0.113.7", LastUserAgent: "erp/4.2", Routes: []RouteCount{{Route: "GET /x", Count: 4, Overcount: 1}}}
	got := ToStoreDelta(d)
	want := store.UsageDelta{KeyID: "k1", Day: d.Day, Accepted: 1, Refused: map[string]int64{CodeSunset: 2, "other": 1},
		LastUsedAt: d.LastUsedAt, LastIP: d.LastIP, LastUserAgent: d.LastUserAgent,
		Routes: []store.RouteCount{{Route: "GET /x", Count: 4}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToStoreDelta = %+v, want %+v", got, want)
	}
	if !maps.Equal(got.Refused, want.Refused) {
		t.Error("refusals differ")
	}
}
