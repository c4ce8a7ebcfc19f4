package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var trafficTests = []test{
	{"AddTokenUsage_TwoFlushes_AddUp", testTokenUsageAddsUp},
	{"AddTokenUsage_SameClientDayTwiceInOneCall_BothCount", testTokenUsageDuplicateInBatch},
	{"AddTokenUsage_DayNotMidnight_StoredAtMidnightUTC", testTokenUsageDayTruncated},
	{"AddTokenUsage_Concurrent_NoneLost", testTokenUsageConcurrent},
	{"AddTokenUsage_Empty_NoError", testTokenUsageEmpty},
	{"AddTokenUsage_RolledBack_NotCounted", testTokenUsageRollback},
	{"AddTokenUsage_PublishesNothing", testTokenUsageNoChanges},
	{"DeleteTenant_TokenUsageStays", testTokenUsageOutlivesTenant},
	{"ListTokenUsage_Filters_OldestDayFirst", testTokenUsageList},
}

func addTokenUsage(t *testing.T, s store.Store, deltas ...store.TokenUsageDelta) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.AddTokenUsage(ctx, deltas) })
}

func tokenUsageOf(t *testing.T, r store.Reader, f store.TokenUsageFilter) []store.TokenUsageDay {
	t.Helper()
	got, err := r.ListTokenUsage(t.Context(), f)
	noErr(t, "ListTokenUsage", err)
	return got
}

// tokenDelta is n requests of client c of tenant on day0 plus days.
func tokenDelta(tenant, c string, days int, n int64) store.TokenUsageDelta {
	return store.TokenUsageDelta{Tenant: tenant, ClientID: c, Day: day0.AddDate(0, 0, days), Requests: n}
}

func tokenDay(tenant, c string, days int, n int64) store.TokenUsageDay {
	return store.TokenUsageDay{Tenant: tenant, ClientID: c, Day: day0.AddDate(0, 0, days), Requests: n}
}

func wantTokenUsage(t *testing.T, what string, got, want []store.TokenUsageDay) {
	t.Helper()
	same := func(a, b store.TokenUsageDay) bool {
		return a.Tenant == b.Tenant && a.ClientID == b.ClientID && a.Day.Equal(b.Day) && a.Requests == b.Requests
	}
	if !slices.EqualFunc(got, want, same) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	for _, u := range got {
		checkUTC(t, what, u.Day)
	}
}

func testTokenUsageAddsUp(t *testing.T, s store.Store) {
	addTokenUsage(t, s, tokenDelta("acme", "c1", 0, 5), tokenDelta("acme", "c2", 0, 1))
	addTokenUsage(t, s, tokenDelta("acme", "c1", 0, 3))
	wantTokenUsage(t, "token usage after two flushes", tokenUsageOf(t, s, store.TokenUsageFilter{}),
		[]store.TokenUsageDay{tokenDay("acme", "c1", 0, 8), tokenDay("acme", "c2", 0, 1)})
}

// A flush merges its counts per client and day, but a caller may not have:
// both rows must count, not fail or keep one.
func testTokenUsageDuplicateInBatch(t *testing.T, s store.Store) {
	addTokenUsage(t, s, tokenDelta("acme", "c1", 0, 2), tokenDelta("acme", "c1", 1, 4), tokenDelta("acme", "c1", 0, 3))
	wantTokenUsage(t, "token usage", tokenUsageOf(t, s, store.TokenUsageFilter{}),
		[]store.TokenUsageDay{tokenDay("acme", "c1", 0, 5), tokenDay("acme", "c1", 1, 4)})
}

func testTokenUsageDayTruncated(t *testing.T, s store.Store) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		day  time.Time
	}{
		{"utc midday", day0.Add(13*time.Hour + 7*time.Second)},
		{"cet just after midnight utc", day0.Add(time.Minute).In(cet)},
		{"cet late evening, same utc day", day0.Add(23*time.Hour + 59*time.Minute).In(cet)},
	}
	for _, tc := range tests {
		addTokenUsage(t, s, store.TokenUsageDelta{Tenant: "acme", ClientID: "c1", Day: tc.day, Requests: 1})
	}
	wantTokenUsage(t, "token usage", tokenUsageOf(t, s, store.TokenUsageFilter{}),
		[]store.TokenUsageDay{tokenDay("acme", "c1", 0, int64(len(tests)))})
}

func testTokenUsageConcurrent(t *testing.T, s store.Store) {
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
					// Two rows per flush, in both orders across workers.
					return tx.AddTokenUsage(ctx, []store.TokenUsageDelta{
						tokenDelta("acme", "c2", 0, 1), tokenDelta("acme", "c1", 0, 2)})
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, "concurrent AddTokenUsage", err)
	}
	wantTokenUsage(t, "token usage", tokenUsageOf(t, s, store.TokenUsageFilter{}),
		[]store.TokenUsageDay{tokenDay("acme", "c1", 0, 2*workers*each), tokenDay("acme", "c2", 0, workers*each)})
}

func testTokenUsageEmpty(t *testing.T, s store.Store) {
	addTokenUsage(t, s)
	if got := tokenUsageOf(t, s, store.TokenUsageFilter{}); len(got) != 0 {
		t.Fatalf("token usage = %+v, want none", got)
	}
}

func testTokenUsageRollback(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AddTokenUsage(ctx, []store.TokenUsageDelta{tokenDelta("acme", "c1", 0, 1)}); err != nil {
			return err
		}
		return errFromFn
	})
	wantErr(t, "Tx", err, errFromFn)
	if got := tokenUsageOf(t, s, store.TokenUsageFilter{}); len(got) != 0 {
		t.Fatalf("rolled back token usage stored: %+v", got)
	}
}

func testTokenUsageNoChanges(t *testing.T, s store.Store) {
	changes := s.Subscribe(t.Context())
	addTokenUsage(t, s, tokenDelta("acme", "c1", 0, 1))
	createTenants(t, s, "marker")
	// The first change published is the tenant's: the flush made none.
	expectChanges(t, changes, store.Change{Kind: store.ChangeTenant, ID: "marker", Tenant: "marker"})
}

func testTokenUsageOutlivesTenant(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	addTokenUsage(t, s, tokenDelta("acme", "c1", 0, 7))
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	wantTokenUsage(t, "token usage of a deleted tenant", tokenUsageOf(t, s, store.TokenUsageFilter{Tenant: "acme"}),
		[]store.TokenUsageDay{tokenDay("acme", "c1", 0, 7)})
}

func testTokenUsageList(t *testing.T, s store.Store) {
	addTokenUsage(t, s, tokenDelta("acme", "c2", 1, 1), tokenDelta("other", "c9", 0, 2),
		tokenDelta("acme", "c1", 1, 3), tokenDelta("acme", "c1", 0, 4), tokenDelta("other", "c9", 2, 5))
	tests := []struct {
		name string
		f    store.TokenUsageFilter
		want []store.TokenUsageDay
	}{
		{"all", store.TokenUsageFilter{}, []store.TokenUsageDay{
			tokenDay("acme", "c1", 0, 4), tokenDay("other", "c9", 0, 2),
			tokenDay("acme", "c1", 1, 3), tokenDay("acme", "c2", 1, 1),
			tokenDay("other", "c9", 2, 5)}},
		{"tenant", store.TokenUsageFilter{Tenant: "acme"}, []store.TokenUsageDay{
			tokenDay("acme", "c1", 0, 4), tokenDay("acme", "c1", 1, 3), tokenDay("acme", "c2", 1, 1)}},
		{"since, first day included", store.TokenUsageFilter{Since: day0.AddDate(0, 0, 1)}, []store.TokenUsageDay{
			tokenDay("acme", "c1", 1, 3), tokenDay("acme", "c2", 1, 1), tokenDay("other", "c9", 2, 5)}},
		{"tenant and since", store.TokenUsageFilter{Tenant: "other", Since: day0.AddDate(0, 0, 1)},
			[]store.TokenUsageDay{tokenDay("other", "c9", 2, 5)}},
		{"unknown tenant", store.TokenUsageFilter{Tenant: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tokenUsageOf(t, s, tc.f)
			// Oldest day first; rows of one day by tenant and client, so
			// that the comparison is exact.
			wantTokenUsage(t, "ListTokenUsage", got, tc.want)
		})
	}
}
