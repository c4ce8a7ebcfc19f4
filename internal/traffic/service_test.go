package traffic_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
	"github.com/keyshift/keyshift/internal/traffic"
)

// faultyStore is a real SQLite store whose transactions can be made to
// fail, to show what a store outage does to flushes.
type faultyStore struct {
	*sqlite.Store
	failTx atomic.Bool
}

var errInjected = errors.New("injected store outage")

func (f *faultyStore) Tx(ctx context.Context, fn func(store.Tx) error) error {
	if f.failTx.Load() {
		return errInjected
	}
	return f.Store.Tx(ctx, fn)
}

func openStore(t *testing.T) *faultyStore {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ks.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &faultyStore{Store: st}
}

func newService(t *testing.T, st store.Store, cfg traffic.Config) *traffic.Service {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := traffic.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func stored(t *testing.T, st store.Store) []store.TokenUsageDay {
	t.Helper()
	got, err := st.ListTokenUsage(t.Context(), store.TokenUsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func wantStored(t *testing.T, st store.Store, want ...store.TokenUsageDay) {
	t.Helper()
	got := stored(t, st)
	if len(got) != len(want) {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].Tenant != want[i].Tenant || got[i].ClientID != want[i].ClientID ||
			!got[i].Day.Equal(want[i].Day) || got[i].Requests != want[i].Requests {
			t.Fatalf("stored %+v, want %+v", got, want)
		}
	}
}

func TestService_Flush_AddsToStore(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	svc := newService(t, st, traffic.Config{Registerer: reg})
	for range 3 {
		svc.RecordToken("acme", "c1", day0.Add(time.Hour))
	}
	svc.RecordToken("other", "c9", day0.Add(25*time.Hour))
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantStored(t, st,
		store.TokenUsageDay{Tenant: "acme", ClientID: "c1", Day: day0, Requests: 3},
		store.TokenUsageDay{Tenant: "other", ClientID: "c9", Day: day0.AddDate(0, 0, 1), Requests: 1})
	svc.RecordToken("acme", "c1", day0.Add(2*time.Hour))
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(t.Context()); err != nil { // nothing new: writes nothing
		t.Fatal(err)
	}
	wantStored(t, st,
		store.TokenUsageDay{Tenant: "acme", ClientID: "c1", Day: day0, Requests: 4},
		store.TokenUsageDay{Tenant: "other", ClientID: "c9", Day: day0.AddDate(0, 0, 1), Requests: 1})
	if n := flushes(t, reg, "ok"); n != 2 {
		t.Errorf("ok flushes = %v, want 2 (an empty flush is no flush)", n)
	}
}

// flushes returns the flush counter with the given result label.
func flushes(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "keyshift_token_usage_flushes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestService_StoreOutage_CountsKeptForNextFlush(t *testing.T) {
	st := openStore(t)
	svc := newService(t, st, traffic.Config{})
	for range 5 {
		svc.RecordToken("acme", "c1", day0)
	}
	st.failTx.Store(true)
	if err := svc.Flush(t.Context()); !errors.Is(err, errInjected) {
		t.Fatalf("flush during an outage: error = %v, want the store's", err)
	}
	svc.RecordToken("acme", "c1", day0)
	if err := svc.Flush(t.Context()); err == nil {
		t.Fatal("second flush during an outage succeeded")
	}
	st.failTx.Store(false)
	svc.RecordToken("acme", "c1", day0)
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatalf("flush after the outage: %v", err)
	}
	// 7, not fewer (lost) nor more (a failed batch written twice).
	wantStored(t, st, store.TokenUsageDay{Tenant: "acme", ClientID: "c1", Day: day0, Requests: 7})
}

func TestService_ContextDone_FinalFlush(t *testing.T) {
	st := openStore(t)
	// An interval no test waits for: only the final flush can write.
	svc := newService(t, st, traffic.Config{FlushEvery: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	svc.RecordToken("acme", "c1", day0)
	cancel()
	svc.Wait()
	wantStored(t, st, store.TokenUsageDay{Tenant: "acme", ClientID: "c1", Day: day0, Requests: 1})
}

func TestService_Ticker_Flushes(t *testing.T) {
	st := openStore(t)
	svc := newService(t, st, traffic.Config{FlushEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); svc.Wait() }()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	svc.RecordToken("acme", "c1", day0)
	deadline := time.Now().Add(5 * time.Second)
	for len(stored(t, st)) == 0 { // polls the outcome; the ticker is the thing under test
		if time.Now().After(deadline) {
			t.Fatal("no flush within 5 s of a 10 ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantStored(t, st, store.TokenUsageDay{Tenant: "acme", ClientID: "c1", Day: day0, Requests: 1})
}

func TestNew_NilStore_Error(t *testing.T) {
	if _, err := traffic.New(nil, traffic.Config{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
