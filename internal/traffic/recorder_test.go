package traffic_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/traffic"
)

var day0 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

type use struct {
	tenant, client string
	at             time.Time
}

func delta(tenant, client string, day time.Time, n int64) store.TokenUsageDelta {
	return store.TokenUsageDelta{Tenant: tenant, ClientID: client, Day: day, Requests: n}
}

func sameDeltas(got, want []store.TokenUsageDelta) bool {
	return slices.EqualFunc(got, want, func(a, b store.TokenUsageDelta) bool {
		return a.Tenant == b.Tenant && a.ClientID == b.ClientID && a.Day.Equal(b.Day) &&
			a.Day.Location() == time.UTC && a.Requests == b.Requests
	})
}

func TestRecorder_Drain_CountsPerTenantClientAndUTCDay(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	epoch := time.Unix(0, 0).UTC()
	tests := []struct {
		name string
		uses []use
		want []store.TokenUsageDelta
	}{
		{"nothing recorded", nil, nil},
		{"one client, one day", []use{{"acme", "c1", day0.Add(time.Hour)}, {"acme", "c1", day0.Add(2 * time.Hour)}},
			[]store.TokenUsageDelta{delta("acme", "c1", day0, 2)}},
		{"last and first nanosecond of a day are two days",
			[]use{{"acme", "c1", day0.Add(-time.Nanosecond)}, {"acme", "c1", day0}},
			[]store.TokenUsageDelta{delta("acme", "c1", day0.AddDate(0, 0, -1), 1), delta("acme", "c1", day0, 1)}},
		{"day is the UTC day, not the clock's zone",
			[]use{{"acme", "c1", day0.Add(30 * time.Minute).In(cet)}}, // 01:30 CET is still day0 in UTC
			[]store.TokenUsageDelta{delta("acme", "c1", day0, 1)}},
		{"before 1970 rounds down", []use{{"acme", "c1", epoch.Add(-time.Second)}},
			[]store.TokenUsageDelta{delta("acme", "c1", epoch.AddDate(0, 0, -1), 1)}},
		{"sorted by tenant, day, client",
			[]use{{"zeta", "c0", day0}, {"acme", "c2", day0}, {"acme", "c1", day0.AddDate(0, 0, 1)}, {"acme", "c3", day0}},
			[]store.TokenUsageDelta{delta("acme", "c2", day0, 1), delta("acme", "c3", day0, 1),
				delta("acme", "c1", day0.AddDate(0, 0, 1), 1), delta("zeta", "c0", day0, 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := traffic.NewRecorder()
			for _, u := range tc.uses {
				r.RecordToken(u.tenant, u.client, u.at)
			}
			if got := r.Drain(); !sameDeltas(got, tc.want) {
				t.Errorf("Drain =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestRecorder_Drain_ResetsCounts(t *testing.T) {
	r := traffic.NewRecorder()
	r.RecordToken("acme", "c1", day0)
	r.RecordToken("acme", "c1", day0)
	if got := r.Drain(); !sameDeltas(got, []store.TokenUsageDelta{delta("acme", "c1", day0, 2)}) {
		t.Fatalf("first Drain = %+v", got)
	}
	if got := r.Drain(); len(got) != 0 {
		t.Fatalf("second Drain = %+v, want nothing: the counts were handed over", got)
	}
	r.RecordToken("acme", "c1", day0)
	if got := r.Drain(); !sameDeltas(got, []store.TokenUsageDelta{delta("acme", "c1", day0, 1)}) {
		t.Fatalf("Drain after a new request = %+v, want 1 (counted from zero again)", got)
	}
}

func TestRecorder_Concurrent_NoneLost(t *testing.T) {
	r := traffic.NewRecorder()
	const workers, each, clients = 8, 2000, 5
	var wg sync.WaitGroup
	var drained []store.TokenUsageDelta
	var mu sync.Mutex
	stop := make(chan struct{})
	var dw sync.WaitGroup
	dw.Go(func() { // drains while requests are counted, as the flusher does
		for {
			select {
			case <-stop:
				return
			default:
			}
			d := r.Drain()
			mu.Lock()
			drained = append(drained, d...)
			mu.Unlock()
		}
	})
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.RecordToken("acme", fmt.Sprint("c", (w+i)%clients), day0)
			}
		})
	}
	wg.Wait()
	close(stop)
	dw.Wait()
	drained = append(drained, r.Drain()...)
	got := traffic.Merge(nil, nil)
	for _, d := range drained {
		got = traffic.Merge(got, []store.TokenUsageDelta{d})
	}
	var total int64
	for _, d := range got {
		total += d.Requests
	}
	if total != workers*each || len(got) != clients {
		t.Fatalf("drained %d requests over %d clients, want %d over %d", total, len(got), workers*each, clients)
	}
}

func TestMerge(t *testing.T) {
	d1 := day0.AddDate(0, 0, 1)
	tests := []struct {
		name string
		a, b []store.TokenUsageDelta
		want []store.TokenUsageDelta
	}{
		{"nothing pending: b as it is", nil, []store.TokenUsageDelta{delta("acme", "c1", day0, 1)},
			[]store.TokenUsageDelta{delta("acme", "c1", day0, 1)}},
		{"same tenant, client and day: counts add",
			[]store.TokenUsageDelta{delta("acme", "c1", day0, 2)}, []store.TokenUsageDelta{delta("acme", "c1", day0, 3)},
			[]store.TokenUsageDelta{delta("acme", "c1", day0, 5)}},
		{"other day, client or tenant: apart and sorted",
			[]store.TokenUsageDelta{delta("acme", "c1", d1, 1), delta("other", "c1", day0, 1)},
			[]store.TokenUsageDelta{delta("acme", "c2", day0, 1), delta("acme", "c1", day0, 1)},
			[]store.TokenUsageDelta{delta("acme", "c1", day0, 1), delta("acme", "c2", day0, 1),
				delta("acme", "c1", d1, 1), delta("other", "c1", day0, 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprint(tc.a, tc.b)
			if got := traffic.Merge(tc.a, tc.b); !sameDeltas(got, tc.want) {
				t.Errorf("Merge =\n %+v\nwant\n %+v", got, tc.want)
			}
			if fmt.Sprint(tc.a, tc.b) != before {
				t.Error("Merge modified its input")
			}
		})
	}
}

// BenchmarkRecorder_RecordToken is the per-request cost the gateway adds
// for a token request, in steady state (the client's entry for the day
// exists): it must not allocate.
func BenchmarkRecorder_RecordToken(b *testing.B) {
	r := traffic.NewRecorder()
	clients := make([]string, 64)
	for i := range clients {
		clients[i] = fmt.Sprintf("ksc_%022d", i)
		r.RecordToken("acme", clients[i], day0)
	}
	now := day0.Add(time.Hour)
	b.ReportAllocs()
	cpu := processCPU()
	for i := 0; b.Loop(); i++ {
		r.RecordToken("acme", clients[i&63], now)
	}
	if used := processCPU() - cpu; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkRecorder_RecordToken_Parallel measures contention across cores.
func BenchmarkRecorder_RecordToken_Parallel(b *testing.B) {
	r := traffic.NewRecorder()
	clients := make([]string, 64)
	for i := range clients {
		clients[i] = fmt.Sprintf("ksc_%022d", i)
		r.RecordToken("acme", clients[i], day0)
	}
	now := day0.Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.RecordToken("acme", clients[i&63], now)
			i++
		}
	})
}

// TestRecorder_RecordToken_NoAllocationInSteadyState pins the benchmark's
// claim in the test run, so a change that allocates fails a test.
func TestRecorder_RecordToken_NoAllocationInSteadyState(t *testing.T) {
	r := traffic.NewRecorder()
	r.RecordToken("acme", "ksc_1", day0)
	now := day0.Add(time.Hour)
	if n := testing.AllocsPerRun(1000, func() { r.RecordToken("acme", "ksc_1", now) }); n != 0 {
		t.Fatalf("RecordToken allocates %.1f times per call in steady state, want 0", n)
	}
	r.Drain() // entries survive a drain at zero: still no allocation
	if n := testing.AllocsPerRun(1000, func() { r.RecordToken("acme", "ksc_1", now) }); n != 0 {
		t.Fatalf("RecordToken allocates %.1f times per call after a drain, want 0", n)
	}
}
