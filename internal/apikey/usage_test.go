package apikey

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var noon = at("2026-05-12T12:00:00Z")

func TestRecorder_CountsEqualCallsUnderConcurrency(t *testing.T) {
	r := NewRecorder()
	const workers, perWorker, keys = 16, 2000, 7
	var wg sync.WaitGroup
	var drained []UsageDelta
	var mu sync.Mutex
	stop, done := make(chan struct{}), make(chan struct{})
	// A flusher draining concurrently must not lose or double any use.
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				d := r.Drain()
				mu.Lock()
				drained = append(drained, d...)
				mu.Unlock()
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				code := CodeAccepted
				if i%10 == 0 {
					code = CodeBrownout
				}
				r.Record(fmt.Sprintf("key-%d", (w+i)%keys), code, "GET /api/invoices", "10.0.0.1", "erp/1.0", noon)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-done
	drained = append(drained, r.Drain()...)

	var total, accepted, brownouts uint64
	for _, d := range drained {
		total += d.Count
		accepted += d.Accepted
		brownouts += d.Refusals[CodeBrownout]
		if d.Count != d.Accepted+d.Refusals[CodeBrownout] {
			t.Errorf("%s: count %d != accepted %d + refused %v", d.KeyID, d.Count, d.Accepted, d.Refusals)
		}
	}
	if want := uint64(workers * perWorker); total != want || accepted+brownouts != want || brownouts != want/10 {
		t.Errorf("total %d accepted %d brownouts %d, want %d uses of which %d brownouts", total, accepted, brownouts, want, want/10)
	}
}

func TestRecorder_DrainResets(t *testing.T) {
	r := NewRecorder()
	r.Record("k1", CodeAccepted, "GET /a", "10.0.0.1", "ua", noon)
	r.Record("k1", CodeSunset, "GET /a", "10.0.0.2", "ua2", noon.Add(time.Second))
	first := r.Drain()
	if len(first) != 1 || first[0].Count != 2 || first[0].Accepted != 1 || first[0].Refusals[CodeSunset] != 1 {
		t.Fatalf("first drain %+v", first)
	}
	if d := first[0]; d.LastIP != "10.0.0.2" || d.LastUserAgent != "ua2" || !d.LastUsedAt.Equal(noon.Add(time.Second)) {
		t.Errorf("last use %+v", d)
	}
	if again := r.Drain(); len(again) != 0 {
		t.Fatalf("second drain without uses %+v", again)
	}
	r.Record("k1", CodeAccepted, "GET /b", "10.0.0.2", "ua2", noon.Add(time.Minute))
	third := r.Drain()
	if len(third) != 1 || third[0].Count != 1 || third[0].Refusals != nil {
		t.Fatalf("third drain %+v", third)
	}
	if got := third[0].Routes; len(got) != 1 || got[0] != (RouteCount{Route: "GET /b", Count: 1}) {
		t.Errorf("routes after reset %+v, want only GET /b", got)
	}
}

func TestRecorder_DayBoundarySplitsDays(t *testing.T) {
	r := NewRecorder()
	midnight := at("2026-05-13T00:00:00Z")
	r.Record("k1", CodeAccepted, "", "", "", midnight.Add(-time.Nanosecond))
	r.Record("k1", CodeAccepted, "", "", "", midnight)
	r.Record("k1", CodeAccepted, "", "", "", midnight.Add(time.Hour))
	r.Record("k0", CodeAccepted, "", "", "", at("1969-12-31T23:59:59Z")) // before the epoch rounds down
	got := r.Drain()
	want := []struct {
		key   string
		day   string
		count uint64
	}{{"k0", "1969-12-31", 1}, {"k1", "2026-05-12", 1}, {"k1", "2026-05-13", 2}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if got[i].KeyID != w.key || got[i].Day.Format(time.RFC3339) != w.day+"T00:00:00Z" || got[i].Count != w.count {
			t.Errorf("delta %d = %s %s %d, want %+v", i, got[i].KeyID, got[i].Day, got[i].Count, w)
		}
	}
}

func TestRecorder_LateUseFromThePreviousDayCountsOnItsDay(t *testing.T) {
	r := NewRecorder()
	midnight := at("2026-05-13T00:00:00Z")
	r.Record("k", CodeAccepted, "", "", "", midnight.Add(-time.Hour))
	r.Drain()
	r.Record("k", CodeAccepted, "", "", "", midnight.Add(time.Millisecond))  // the drained entry moves to the new day
	r.Record("k", CodeAccepted, "", "", "", midnight.Add(-time.Millisecond)) // started before midnight, recorded after
	r.Record("k", CodeAccepted, "", "", "", midnight.Add(-time.Millisecond))
	r.Record("k", CodeAccepted, "", "", "", midnight.Add(time.Second))
	got := r.Drain()
	if len(got) != 2 || got[0].Day.Day() != 12 || got[0].Count != 2 || got[1].Day.Day() != 13 || got[1].Count != 2 {
		t.Fatalf("got %+v", got)
	}
	if again := r.Drain(); len(again) != 0 {
		t.Fatalf("past days not cleared: %+v", again)
	}
}

func TestRecorder_LastUseIsTheLatestNotTheLastCall(t *testing.T) {
	r := NewRecorder()
	r.Record("k", CodeAccepted, "", "10.0.0.2", "new", noon.Add(time.Second))
	r.Record("k", CodeAccepted, "", "10.0.0.1", "old", noon) // a slow request reported late
	d := r.Drain()[0]
	if d.LastIP != "10.0.0.2" || d.LastUserAgent != "new" || !d.LastUsedAt.Equal(noon.Add(time.Second)) {
		t.Errorf("%+v", d)
	}
}

func TestRecorder_TopRoutes_ExactUpToTheLimit(t *testing.T) {
	r := NewRecorder()
	for n := range 100 {
		for i := range MaxTopRoutes {
			if n < 100-i {
				r.Record("k", CodeAccepted, fmt.Sprintf("GET /r%02d", i), "", "", noon)
			}
		}
	}
	routes := r.Drain()[0].Routes
	if len(routes) != MaxTopRoutes {
		t.Fatalf("%d routes kept", len(routes))
	}
	for i, rc := range routes {
		if want := (RouteCount{Route: fmt.Sprintf("GET /r%02d", i), Count: uint64(100 - i)}); rc != want {
			t.Errorf("routes[%d] = %+v, want %+v", i, rc, want)
		}
	}
}

func TestRecorder_TopRoutes_HeavyHittersSurviveManyRoutes(t *testing.T) {
	r := NewRecorder()
	// Five heavy routes interleaved with a long tail of 40 one-off routes.
	for n := range 200 {
		r.Record("k", CodeAccepted, fmt.Sprintf("GET /heavy%d", n%5), "", "", noon)
		if n%5 == 0 {
			r.Record("k", CodeAccepted, fmt.Sprintf("GET /tail%d", n/5), "", "", noon)
		}
	}
	routes := r.Drain()[0].Routes
	for i, rc := range routes[:5] {
		if !strings.HasPrefix(rc.Route, "GET /heavy") || rc.Count-rc.Overcount > 40 || rc.Count < 40 {
			t.Errorf("routes[%d] = %+v, want a heavy route counted 40 (within its overcount)", i, rc)
		}
	}
	for i := 1; i < len(routes); i++ {
		if routes[i].Count-routes[i].Overcount > routes[i-1].Count-routes[i-1].Overcount {
			t.Errorf("routes not sorted by guaranteed count: %+v", routes)
		}
	}
}

func TestRecorder_BoundsKeptStrings(t *testing.T) {
	r := NewRecorder()
	r.Record("k", CodeAccepted, strings.Repeat("r", 1000), strings.Repeat("1", 1000), strings.Repeat("é", 1000), noon)
	d := r.Drain()[0]
	if len(d.LastIP) > maxIPLen || len(d.LastUserAgent) > maxUserAgentLen || len(d.Routes[0].Route) > maxRouteLen {
		t.Errorf("kept %d/%d/%d bytes", len(d.LastIP), len(d.LastUserAgent), len(d.Routes[0].Route))
	}
	if !strings.HasPrefix(d.LastUserAgent, "éé") || strings.ContainsRune(d.LastUserAgent, '\uFFFD') || len(d.LastUserAgent)%2 != 0 {
		t.Errorf("user agent cut inside a rune: %q", d.LastUserAgent[len(d.LastUserAgent)-3:])
	}
}

func TestRecorder_UnknownCodeCountsAsOther(t *testing.T) {
	r := NewRecorder()
	r.Record("k", "something_else", "", "", "", noon)
	if d := r.Drain()[0]; d.Refusals["other"] != 1 || d.Accepted != 0 {
		t.Errorf("%+v", d)
	}
}

func TestRecorder_SteadyStateDoesNotAllocate(t *testing.T) {
	r := NewRecorder()
	ip, ua := "203.0.113.7", "erp-connector/4.2 (+https://example.com)"
	r.Record("key_1", CodeAccepted, "GET /api/invoices/{id}", ip, ua, noon)
	r.Drain() // entries survive a drain with their strings
	if n := testing.AllocsPerRun(1000, func() {
		r.Record("key_1", CodeAccepted, "GET /api/invoices/{id}", ip, ua, noon)
		r.Record("key_1", CodeBrownout, "POST /api/invoices", ip, ua, noon)
	}); n != 0 {
		t.Errorf("Record allocates %v times per run", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	ip, ua := "203.0.113.7", "erp-connector/4.2 (+https://example.com)"
	routes := []string{"GET /api/invoices/{id}", "POST /api/invoices", "GET /api/suppliers"}
	b.Run("serial", func(b *testing.B) {
		r := NewRecorder()
		r.Record("key_1", CodeAccepted, routes[0], ip, ua, noon)
		b.ReportAllocs()
		i := 0
		cpu := processCPU()
		for b.Loop() {
			r.Record("key_1", CodeAccepted, routes[i%3], ip, ua, noon)
			i++
		}
		reportCPU(b, cpu)
	})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("key_%04d", i)
	}
	// Many keys from many goroutines: the sharding case.
	b.Run("parallel_many_keys", func(b *testing.B) {
		r := NewRecorder()
		for _, k := range keys {
			r.Record(k, CodeAccepted, routes[0], ip, ua, noon)
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 97
			for pb.Next() {
				r.Record(keys[i%len(keys)], CodeAccepted, routes[i%3], ip, ua, noon)
				i++
			}
		})
	})
	// One hot key from every goroutine: the worst case, one shard's mutex.
	b.Run("parallel_one_key", func(b *testing.B) {
		r := NewRecorder()
		r.Record("key_1", CodeAccepted, routes[0], ip, ua, noon)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Record("key_1", CodeAccepted, routes[0], ip, ua, noon)
			}
		})
	})
}

func TestShardOf_Spreads(t *testing.T) {
	var hits [usageShards]int
	for i := range 64 * 100 {
		hits[shardOf(fmt.Sprintf("key_%d", i))]++
	}
	for i, n := range hits {
		if n < 50 || n > 150 {
			t.Errorf("shard %d got %d of 6400 sequential ids (want about 100)", i, n)
		}
	}
	if got := shardOf(""); got < 0 || got >= usageShards {
		t.Errorf("shardOf(\"\") = %d", got)
	}
}

// reportCPU reports the process CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if used := processCPU() - start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
