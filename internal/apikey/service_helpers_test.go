package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// svcClock is a settable clock shared by the store and the service.
type svcClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *svcClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *svcClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// faultyStore is a real SQLite store whose transactions can be made to
// fail, to show what a store outage does to usage flushes.
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

// svcEnv is a service on a real SQLite file.
type svcEnv struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
	path   string
	clock  *svcClock
	st     *faultyStore
	svc    *Service
	reg    *prometheus.Registry
}

// newSvcEnv opens a store at path (a new temp file when "") and starts a
// service on it.
func newSvcEnv(t testing.TB, path string, clock *svcClock) *svcEnv {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "ks.db")
	}
	if clock == nil {
		clock = &svcClock{t: at("2026-01-01T00:00:00Z")}
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, path, sqlite.Options{Now: clock.Now, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &svcEnv{t: t, ctx: ctx, cancel: cancel, path: path, clock: clock, st: &faultyStore{Store: st},
		reg: prometheus.NewRegistry()}
	e.svc, err = NewService(e.st, ServiceConfig{Now: clock.Now, Logger: log, Registerer: e.reg,
		FlushEvery: time.Hour, GuideURL: "https://docs.example.com/fallback"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(e.stop)
	return e
}

// stop ends the service (with its final flush) and closes the store; it
// may be called more than once.
func (e *svcEnv) stop() {
	e.cancel()
	e.svc.Wait()
	_ = e.st.Close()
}

func (e *svcEnv) tx(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.st.Tx(e.ctx, fn); err != nil {
		e.t.Fatalf("tx: %v", err)
	}
}

func (e *svcEnv) tenant(id string, created time.Time) {
	e.t.Helper()
	e.tx(func(tx store.Tx) error {
		return tx.CreateTenant(e.ctx, store.Tenant{ID: id, Name: id, Status: store.StatusActive, CreatedAt: created})
	})
}

func (e *svcEnv) setTimeline(tl Timeline) {
	e.t.Helper()
	raw, err := json.Marshal(tl.Normalized())
	if err != nil {
		e.t.Fatal(err)
	}
	e.tx(func(tx store.Tx) error { return tx.PutSetting(e.ctx, SettingTimeline, raw) })
}

// key creates a key and returns its secret; mod may change the record.
func (e *svcEnv) key(tenant string, mod ...func(*store.APIKey)) (id, secret string) {
	e.t.Helper()
	secret = Generate()
	h := Hash(secret)
	k := store.APIKey{
		ID: credential.ID("key_", 16), Tenant: tenant, Hash: h[:], Hint: credential.Hint(secret),
		Name: "erp sync", Permissions: []string{"invoices:read"}, Owner: store.OwnerTenant,
		Status: store.StatusActive, CreatedAt: at("2024-06-01T00:00:00Z"),
	}
	for _, m := range mod {
		m(&k)
	}
	e.tx(func(tx store.Tx) error { return tx.CreateAPIKey(e.ctx, k) })
	return k.ID, secret
}

func (e *svcEnv) updateKey(id string, fn func(*store.APIKey)) {
	e.t.Helper()
	e.tx(func(tx store.Tx) error {
		return tx.UpdateAPIKey(e.ctx, id, func(k store.APIKey) (store.APIKey, error) { fn(&k); return k, nil })
	})
}

func (e *svcEnv) check(secret string) Result {
	e.t.Helper()
	r, err := e.svc.Check(e.ctx, secret, RequestInfo{Route: "GET /api/invoices/{id}", IP: "203.0.113.7", UserAgent: "erp/4.2"})
	if err != nil {
		e.t.Fatalf("check: %v", err)
	}
	return r
}

// eventually polls cond for up to a second: the change feed is asynchronous.
func (e *svcEnv) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("not within 1 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// usage sums the stored usage of a key: accepted and refused by code.
func (e *svcEnv) usage(keyID string) (accepted int64, refused map[string]int64) {
	e.t.Helper()
	days, err := e.st.ListUsage(e.ctx, store.UsageFilter{KeyID: keyID})
	if err != nil {
		e.t.Fatalf("list usage: %v", err)
	}
	refused = map[string]int64{}
	for _, d := range days {
		accepted += d.Accepted
		for c, n := range d.Refused {
			refused[c] += n
		}
	}
	return accepted, refused
}

func (e *svcEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	var c prometheus.Counter
	switch name {
	case "checks":
		c = e.svc.metrics.checks.WithLabelValues(labels...)
	case "lookups":
		c = e.svc.metrics.lookups.WithLabelValues(labels...)
	default:
		e.t.Fatalf("unknown metric %s", name)
	}
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		e.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
