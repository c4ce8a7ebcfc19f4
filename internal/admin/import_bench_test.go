package admin

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
)

// writeImportFile writes n JSON lines of legacy keys, with a distinct
// contact login each (the worst case for the login index) unless logins is
// false.
func writeImportFile(tb testing.TB, n int, logins bool) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "keys.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		login := ""
		if logins {
			login = fmt.Sprintf(`,"contact_login":"user%d"`, i)
		}
		fmt.Fprintf(w, `{"key":"LEGACY%034d","name":"integration %d","permissions":["invoices:read"]%s,"created_at":"2021-05-01T10:00:00Z"}`+"\n", i, i, login)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// heapPeak samples the live heap until stop is called and returns the
// largest value seen.
func heapPeak() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// importFile imports path into acme and reports the time and heap peak.
func importFile(tb testing.TB, e *env, path string, want int) (time.Duration, uint64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	stop := heapPeak()
	start := time.Now()
	res, err := e.api.ImportKeys(context.Background(), operator, "acme", f, apikey.ImportJSONL, ImportOptions{})
	elapsed := time.Since(start)
	peak := stop()
	if err != nil || res.Created != want || res.Failed != 0 {
		tb.Fatalf("import = created %d failed %d, %v", res.Created, res.Failed, err)
	}
	return elapsed, peak
}

// TestImport1M imports a million keys; run with KEYSHIFT_IMPORT_1M=1.
// KEYSHIFT_IMPORT_N changes the number of rows and KEYSHIFT_IMPORT_LOGINS=0
// leaves the contact logins out, to show how memory scales.
func TestImport1M(t *testing.T) {
	if os.Getenv("KEYSHIFT_IMPORT_1M") != "1" {
		t.Skip("set KEYSHIFT_IMPORT_1M=1 to import a million keys")
	}
	n := 1_000_000
	if s := os.Getenv("KEYSHIFT_IMPORT_N"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatalf("KEYSHIFT_IMPORT_N: %v", err)
		}
	}
	e := newEnv(t)
	path := writeImportFile(t, n, os.Getenv("KEYSHIFT_IMPORT_LOGINS") != "0")
	fi, _ := os.Stat(path)
	elapsed, peak := importFile(t, e, path, n)
	t.Logf("imported %d keys (%d MiB file) in %s: %.0f keys/s, peak heap %d MiB",
		n, fi.Size()>>20, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), peak>>20)
	if got, want := e.auditCount(t, "api_key.import", "acme"), min(1000, (n+ImportBatch-1)/ImportBatch); got != want {
		t.Errorf("audit events = %d, want %d (the listing stops at 1000)", got, want)
	}
	// Re-import: every row unchanged, nothing written.
	e.clock.Add(time.Second)
	f, _ := os.Open(path)
	defer f.Close()
	start := time.Now()
	res, err := e.api.ImportKeys(context.Background(), operator, "acme", f, apikey.ImportJSONL, ImportOptions{})
	if err != nil || res.Unchanged != n {
		t.Fatalf("re-import = %+v, %v", res, err)
	}
	t.Logf("re-imported (all unchanged) in %s", time.Since(start).Round(time.Millisecond))
}

// BenchmarkImport1M measures importing a million keys into an empty store.
func BenchmarkImport1M(b *testing.B) {
	const n = 1_000_000
	path := writeImportFile(b, n, true)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		b.StartTimer()
		elapsed, peak := importFile(b, e, path, n)
		b.ReportMetric(n/elapsed.Seconds(), "keys/s")
		b.ReportMetric(float64(peak>>20), "peak-heap-MiB")
	}
}

// BenchmarkImportBatch measures one batch of ImportBatch new keys.
func BenchmarkImportBatch(b *testing.B) {
	e := newEnv(b)
	path := writeImportFile(b, ImportBatch*20, true)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ir, err := apikey.NewImportReader(f, apikey.ImportJSONL)
	if err != nil {
		b.Fatal(err)
	}
	state, err := newImportState(context.Background(), e.st, "acme")
	if err != nil {
		b.Fatal(err)
	}
	im := &importer{a: e.api, p: operator, tenant: "acme", stamp: testStart, state: state, opts: ImportOptions{BatchSize: ImportBatch},
		known: map[string]bool{"invoices:read": true}}
	b.ReportAllocs()
	batch := make([]apikey.ImportRow, 0, ImportBatch)
	rows := 0
	for b.Loop() {
		var done bool
		batch, done, err = im.read(ir, batch[:0])
		if err != nil || done && len(batch) == 0 {
			b.Skip("file exhausted")
		}
		if err := im.commit(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		rows += len(batch)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "keys/s")
}
