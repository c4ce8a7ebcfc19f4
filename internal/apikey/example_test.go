package apikey_test

import (
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
)

func date(s string) *time.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return &t
}

// The path of a legacy key: parse the header, look the key up by
// hash (not shown), decide; the guard renders the signals and the refusal
// from the decision.
func ExampleDecide() {
	tl := apikey.Timeline{
		DeprecatedAt: date("2026-03-01"),
		KeysOffAt:    date("2026-07-01"),
		Extensions:   []apikey.Extension{{Tenant: "late", KeysOffAt: *date("2026-09-01"), Reason: "quarterly job"}},
	}
	key := apikey.Key{ID: "key_1", Tenant: "acme", Owner: apikey.OwnerTenant, Status: apikey.StatusActive}
	acme := apikey.TenantInfo{ID: "acme"}

	for _, now := range []string{"2026-05-01", "2026-07-01"} {
		d := apikey.Decide(tl, acme, key, *date(now))
		fmt.Println(now, d.Code, d.Sunset.Format(time.DateOnly))
		if !d.Accepted {
			fmt.Println(apikey.Result{Decision: d}.Description())
		}
	}
	// Output:
	// 2026-05-01 accepted 2026-07-01
	// 2026-07-01 api_key_sunset 2026-07-01
	// API keys are no longer accepted for this tenant: use an OAuth 2.0 client. They stopped being accepted at 2026-07-01T00:00:00Z.
}

func ExampleTimeline_Validate() {
	tl := apikey.Timeline{DeprecatedAt: date("2026-03-01"), KeysOffAt: date("2026-01-01"), DisableUnusedAfterDays: -1}
	fmt.Println(tl.Validate())
	// Output:
	// invalid timeline (2 problems): keys_off_at (2026-01-01) is before deprecated_at (2026-03-01): a sunset must not be earlier than the deprecation (RFC 8594); disable_unused_after_days (-1) must be between 0 (off) and 3650
}

func ExampleRecorder() {
	r := apikey.NewRecorder()
	now := time.Date(2026, 5, 12, 9, 0, 0, 0, time.UTC)
	r.Record("key_1", apikey.CodeAccepted, "GET /api/invoices/{id}", "203.0.113.7", "erp/4.2", now)
	r.Record("key_1", apikey.CodeBrownout, "GET /api/invoices/{id}", "203.0.113.7", "erp/4.2", now.Add(time.Minute))
	for _, d := range r.Drain() { // a flusher does this every few seconds and at shutdown
		fmt.Println(d.KeyID, d.Day.Format(time.DateOnly), d.Count, d.Accepted, d.Refusals, d.Routes)
	}
	// Output:
	// key_1 2026-05-12 2 1 map[api_key_brownout:1] [{GET /api/invoices/{id} 2 0}]
}
