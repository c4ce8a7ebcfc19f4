package apikey_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
)

func date(s string) *time.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return &t
}

// The guard's path for a legacy key: parse the header, look the key up by
// hash (not shown), decide, send the signals or the refusal, count the use.
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
		h := make(http.Header)
		apikey.SetHeaders(h, d, "https://docs.example.com/oauth")
		fmt.Println(now, d.Code, h.Get("Sunset"))
		if !d.Accepted {
			fmt.Println(string(apikey.RefusalBody(d, "https://docs.example.com/oauth")))
		}
	}
	// Output:
	// 2026-05-01 accepted Wed, 01 Jul 2026 00:00:00 GMT
	// 2026-07-01 api_key_sunset Wed, 01 Jul 2026 00:00:00 GMT
	// {"error":"api_key_sunset","error_description":"API keys are no longer accepted for this tenant: use an OAuth 2.0 client. They stopped being accepted at 2026-07-01T00:00:00Z.","sunset":"2026-07-01T00:00:00Z","migration_guide_url":"https://docs.example.com/oauth"}
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
