// Package notify tells tenants and the operator about the sunset of legacy
// API keys through signed webhooks, fed from the store's outbox.
//
// # Outbox and delivery
//
// An event and its notification commit together: Enqueue (or KeyDisabled)
// writes the message in the transaction of the event, so a rolled-back event
// sends nothing. A Notifier's Run then delivers due messages at least once:
//
//   - each message is POSTed as JSON {"id","topic","tenant","created_at","data"}
//     to its tenant's webhook, or the operator's when Tenant is "";
//   - a 2xx answer marks it delivered; anything else (redirects are not
//     followed, each attempt has 10 s) schedules a retry after a delay drawn
//     uniformly below 30 s × 2^(attempt-1), capped at 6 h ("full jitter");
//   - after 12 failed attempts (about a day) the message is given up: it
//     stays undelivered with NextAttemptAt = Never (year 9999, never due) and
//     LastError "gave up after 12 attempts: <last error>" (see GaveUp,
//     Redeliver). LastError never holds the URL or more than 200 characters
//     of the response;
//   - a message for a tenant without webhook is marked delivered at once with
//     LastError "no webhook configured": nobody asked to be told, and news
//     held back until a webhook appears would be stale;
//   - delivered messages are removed after 7 days.
//
// Because delivery is at least once (a crash between the POST and recording
// it resends), receivers must deduplicate on the event id, which is also
// sent as the Keyshift-Event-Id header. Order between messages is not
// guaranteed.
//
// Tenants' webhooks cannot reach loopback, private or link-local addresses
// (server-side request forgery) unless Config.AllowPrivateNetworks is set;
// the operator's webhook can.
//
// # Scheduled notifications
//
// RunScheduler plans, every minute, what the timeline calls for (see Plan):
// reminders 30, 7 and 1 days before each tenant's keys_off_at, the start and
// end of brownouts, and a daily digest of keys still in use. Planned
// messages have deterministic IDs ("reminder-7d-acme-2027-01-01T00:00:00Z"),
// so two instances or a restart never plan one twice.
//
// # Webhooks and signatures
//
// SetWebhook stores a tenant's (or the operator's) URL and generates its
// signing secret ("whs_…"), shown once; both are sealed at rest. Every request
// carries
//
//	Keyshift-Signature: t=1767225600,v1=6e4919e7cc77aa51c53be88c208201de8bf3504c19c87e0220c83919afba96a4
//
// where t is the Unix time of sending and v1 the hex HMAC-SHA256, keyed
// with the whole secret string, of t, a dot and the raw body (the value above
// is for the secret "whs_testsecret" and the body "{}", a test vector). For a day after a secret is
// replaced, a second v1 signed with the previous secret follows. A receiver
// checks it like this (or calls Verify):
//
//	func verify(secret, header string, body []byte, now time.Time) bool {
//		var ts string
//		var sigs []string
//		for _, part := range strings.Split(header, ",") {
//			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
//			switch k {
//			case "t":
//				ts = v
//			case "v1":
//				sigs = append(sigs, v)
//			}
//		}
//		sec, err := strconv.ParseInt(ts, 10, 64)
//		if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
//			return false // missing, or too old: a replay
//		}
//		mac := hmac.New(sha256.New, []byte(secret))
//		mac.Write([]byte(ts + "."))
//		mac.Write(body)
//		want := mac.Sum(nil)
//		for _, s := range sigs {
//			if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
//				return true
//			}
//		}
//		return false
//	}
//
// Verify the raw bytes as received, before any JSON decoding.
package notify
