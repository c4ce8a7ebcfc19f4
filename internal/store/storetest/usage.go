package storetest

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var usageTests = []test{
	{"AddUsage_TwoFlushes_AddUp", testUsageAddsUp},
	{"AddUsage_OlderDelta_KeepsLatestUse", testUsageOlderDelta},
	{"AddUsage_RaisesKeyLastUsedAt", testUsageKeyLastUsed},
	{"AddUsage_KeepsTop10Routes", testUsageTopRoutes},
	{"AddUsage_Concurrent_NoneLost", testUsageConcurrent},
	{"ListUsage_Filters_OldestDayFirst", testUsageList},
}

var day0 = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

func addUsage(t *testing.T, s store.Store, deltas ...store.UsageDelta) {
	t.Helper()
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error { return tx.AddUsage(ctx, deltas) })
}

func usageOf(t *testing.T, kr store.KeyReader, f store.UsageFilter) []store.UsageDay {
	t.Helper()
	got, err := kr.ListUsage(t.Context(), f)
	noErr(t, "ListUsage", err)
	return got
}

func testUsageAddsUp(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	addUsage(t, s, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 5,
		Refused:    map[string]int64{"api_key_brownout": 2},
		LastUsedAt: day0.Add(time.Hour), LastIP: "192.0.2.1", LastUserAgent: "loader/1",
		Routes: []store.RouteCount{{Route: "GET /api/invoices", Count: 4}, {Route: "POST /api/invoices", Count: 1}}})
	addUsage(t, s, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 3,
		Refused:    map[string]int64{"api_key_brownout": 1, "api_key_sunset": 4},
		LastUsedAt: day0.Add(2 * time.Hour), LastIP: "192.0.2.2", LastUserAgent: "loader/2",
		Routes: []store.RouteCount{{Route: "POST /api/invoices", Count: 6}}})
	got := usageOf(t, kr, store.UsageFilter{KeyID: "k1"})
	want := []store.UsageDay{{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 8,
		Refused:    map[string]int64{"api_key_brownout": 3, "api_key_sunset": 4},
		LastUsedAt: day0.Add(2 * time.Hour), LastIP: "192.0.2.2", LastUserAgent: "loader/2",
		Routes: []store.RouteCount{{Route: "POST /api/invoices", Count: 7}, {Route: "GET /api/invoices", Count: 4}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("usage after two flushes:\n got %+v\nwant %+v", got, want)
	}
	checkUTC(t, "usage", got[0].Day, got[0].LastUsedAt)
}

func testUsageOlderDelta(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	addUsage(t, s, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 1,
		LastUsedAt: day0.Add(2 * time.Hour), LastIP: "192.0.2.2"})
	addUsage(t, s, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 1,
		LastUsedAt: day0.Add(time.Hour), LastIP: "192.0.2.1"})
	got := usageOf(t, kr, store.UsageFilter{KeyID: "k1"})
	if len(got) != 1 || got[0].Accepted != 2 || !got[0].LastUsedAt.Equal(day0.Add(2*time.Hour)) ||
		got[0].LastIP != "192.0.2.2" {
		t.Fatalf("usage = %+v, want 2 accepted, last used at 02:00 from 192.0.2.2", got)
	}
}

func testUsageKeyLastUsed(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme")
	k := newAPIKey("k1", "acme")
	k.LastUsedAt = nil
	createAPIKeys(t, s, k)
	for _, h := range []int{3, 1} { // the older flush must not lower it
		addUsage(t, s, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 1,
			LastUsedAt: day0.Add(time.Duration(h) * time.Hour)})
	}
	got, err := kr.GetAPIKey(t.Context(), "k1")
	noErr(t, "GetAPIKey", err)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(day0.Add(3*time.Hour)) {
		t.Fatalf("key LastUsedAt = %v, want %v", got.LastUsedAt, day0.Add(3*time.Hour))
	}
}

func testUsageTopRoutes(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	var routes []store.RouteCount
	for i := range 12 {
		routes = append(routes, store.RouteCount{Route: fmt.Sprintf("GET /r%02d", i), Count: int64(i + 1)})
	}
	addUsage(t, s, store.UsageDelta{KeyID: "k1", Tenant: "acme", Day: day0, Accepted: 1, Routes: routes})
	got := usageOf(t, kr, store.UsageFilter{KeyID: "k1"})
	if len(got) != 1 || len(got[0].Routes) != 10 {
		t.Fatalf("usage = %+v, want one day with 10 routes", got)
	}
	if r := got[0].Routes; r[0].Route != "GET /r11" || r[9].Route != "GET /r02" {
		t.Fatalf("routes = %+v, want most used first, the two least used dropped", r)
	}
}

func testUsageConcurrent(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
					return tx.AddUsage(ctx, []store.UsageDelta{{KeyID: "k1", Tenant: "acme", Day: day0,
						Accepted: 2, Refused: map[string]int64{"api_key_sunset": 1}}})
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, "concurrent AddUsage", err)
	}
	got := usageOf(t, kr, store.UsageFilter{KeyID: "k1"})
	if len(got) != 1 || got[0].Accepted != 2*workers*each || got[0].Refused["api_key_sunset"] != workers*each {
		t.Fatalf("usage = %+v, want %d accepted and %d refused", got, 2*workers*each, workers*each)
	}
}

func testUsageList(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	d := func(key, tenant string, days int) store.UsageDelta {
		return store.UsageDelta{KeyID: key, Tenant: tenant, Day: day0.AddDate(0, 0, days), Accepted: 1}
	}
	addUsage(t, s, d("k2", "acme", 1), d("k1", "acme", 1), d("k1", "acme", 0), d("k3", "other", 2))
	type row struct {
		key string
		day int
	}
	tests := []struct {
		name string
		f    store.UsageFilter
		want []row
	}{
		{"all", store.UsageFilter{}, []row{{"k1", 0}, {"k1", 1}, {"k2", 1}, {"k3", 2}}},
		{"tenant", store.UsageFilter{Tenant: "acme"}, []row{{"k1", 0}, {"k1", 1}, {"k2", 1}}},
		{"key", store.UsageFilter{KeyID: "k1"}, []row{{"k1", 0}, {"k1", 1}}},
		{"since", store.UsageFilter{Since: day0.AddDate(0, 0, 1)}, []row{{"k1", 1}, {"k2", 1}, {"k3", 2}}},
	}
	for _, tc := range tests {
		var got []row
		for _, u := range usageOf(t, kr, tc.f) {
			got = append(got, row{u.KeyID, int(u.Day.Sub(day0).Hours() / 24)})
		}
		byDay := func(a, b row) int { return a.day - b.day }
		if !slices.IsSortedFunc(got, byDay) {
			t.Errorf("ListUsage %s = %v, not oldest day first", tc.name, got)
		}
		// Rows of one day may come in any order.
		slices.SortFunc(got, func(a, b row) int { return cmp.Or(byDay(a, b), cmp.Compare(a.key, b.key)) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListUsage %s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

var outboxTests = []test{
	{"Enqueue_FillsDefaults", testOutboxDefaults},
	{"ListDue_OnlyUndeliveredAndDue", testOutboxDue},
	{"Update_WritesFnResult", testOutboxUpdate},
	{"DeleteDelivered_RemovesOnlyOldDelivered", testOutboxDeleteDelivered},
	{"RolledBack_NotEnqueued", testOutboxRollback},
}

func newMessage(id string, next time.Duration) store.OutboxMessage {
	return store.OutboxMessage{ID: id, Tenant: "acme", Topic: "key.disabled",
		Payload: []byte(`{"key_id":"k1"}`), CreatedAt: at(0), NextAttemptAt: at(next)}
}

func enqueue(t *testing.T, s store.Store, ms ...store.OutboxMessage) {
	t.Helper()
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		for _, m := range ms {
			if err := tx.EnqueueOutbox(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func normMessage(m store.OutboxMessage) store.OutboxMessage {
	m.Payload = bytesOrNil(m.Payload)
	m.CreatedAt, m.NextAttemptAt = utc(m.CreatedAt), utc(m.NextAttemptAt)
	if m.DeliveredAt != nil {
		d := m.DeliveredAt.UTC()
		m.DeliveredAt = &d
	}
	return m
}

func dueIDs(t *testing.T, kr store.KeyReader, now time.Time, limit int) []string {
	t.Helper()
	got, err := kr.ListDueOutbox(t.Context(), now, limit)
	noErr(t, "ListDueOutbox", err)
	var ids []string
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	return ids
}

func testOutboxDefaults(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	enqueue(t, s, store.OutboxMessage{Topic: "key.disabled"}, store.OutboxMessage{Topic: "key.disabled"})
	// Far enough ahead for any backend clock.
	got, err := kr.ListDueOutbox(t.Context(), time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	noErr(t, "ListDueOutbox", err)
	if len(got) != 2 || got[0].ID == "" || got[0].ID == got[1].ID {
		t.Fatalf("messages = %+v, want two with distinct ids", got)
	}
	for _, m := range got {
		if m.CreatedAt.IsZero() || !m.NextAttemptAt.Equal(m.CreatedAt) {
			t.Fatalf("message times not defaulted: %+v", m)
		}
	}
}

func testOutboxDue(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	delivered := newMessage("m0", 0)
	d := at(time.Minute)
	delivered.DeliveredAt = &d
	enqueue(t, s, newMessage("m2", 2*time.Minute), newMessage("m1", time.Minute), delivered,
		newMessage("m3", time.Hour))
	tests := []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{at(0), 0, nil},
		{at(time.Minute), 0, []string{"m1"}},
		{at(10 * time.Minute), 0, []string{"m1", "m2"}},
		{at(10 * time.Minute), 1, []string{"m1"}},
		{at(2 * time.Hour), 0, []string{"m1", "m2", "m3"}},
	}
	for _, tc := range tests {
		if got := dueIDs(t, kr, tc.now, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("ListDueOutbox(%v, %d) = %v, want %v", tc.now, tc.limit, got, tc.want)
		}
	}
	got, err := kr.ListDueOutbox(t.Context(), at(time.Minute), 0)
	noErr(t, "ListDueOutbox", err)
	equal(t, "listed message", got[0], newMessage("m1", time.Minute), normMessage)
}

func testOutboxUpdate(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	enqueue(t, s, newMessage("m1", 0))
	retry := func(m store.OutboxMessage) store.OutboxMessage {
		m.Attempts++
		m.LastError = "webhook answered 503"
		m.NextAttemptAt = at(5 * time.Minute)
		return m
	}
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.UpdateOutbox(ctx, "m1", func(m store.OutboxMessage) (store.OutboxMessage, error) {
			equal(t, "value passed to fn", m, newMessage("m1", 0), normMessage)
			return retry(m), nil
		})
	})
	got, err := kr.ListDueOutbox(t.Context(), at(time.Hour), 0)
	noErr(t, "ListDueOutbox", err)
	if len(got) != 1 {
		t.Fatalf("ListDueOutbox = %d messages, want 1", len(got))
	}
	equal(t, "updated message", got[0], retry(newMessage("m1", 0)), normMessage)

	err = keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.UpdateOutbox(ctx, "nope", func(m store.OutboxMessage) (store.OutboxMessage, error) { return m, nil })
	})
	wantErr(t, "UpdateOutbox(missing)", err, store.ErrNotFound)
}

func testOutboxDeleteDelivered(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	old, recent := newMessage("old", 0), newMessage("recent", 0)
	d1, d2 := at(time.Minute), at(time.Hour)
	old.DeliveredAt, recent.DeliveredAt = &d1, &d2
	enqueue(t, s, old, recent, newMessage("pending", 0))
	var n int
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		var err error
		n, err = tx.DeleteDeliveredOutbox(ctx, at(10*time.Minute))
		return err
	})
	if n != 1 {
		t.Fatalf("DeleteDeliveredOutbox = %d, want 1", n)
	}
	if got := dueIDs(t, kr, at(time.Hour), 0); !slices.Equal(got, []string{"pending"}) {
		t.Fatalf("due after cleanup = %v, want [pending]", got)
	}
}

func testOutboxRollback(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	err := keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		if err := tx.EnqueueOutbox(ctx, newMessage("m1", 0)); err != nil {
			return err
		}
		return errFromFn
	})
	wantErr(t, "Tx", err, errFromFn)
	if got := dueIDs(t, kr, at(time.Hour), 0); len(got) != 0 {
		t.Fatalf("rolled back message enqueued: %v", got)
	}
}
