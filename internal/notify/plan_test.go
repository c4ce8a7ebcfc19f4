package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

var (
	planDeprecated = date("2026-06-01T00:00:00Z")
	// Sunsets at noon, so reminders and midnight digests fall apart.
	planOff      = date("2027-01-01T12:00:00Z")
	planExtOff   = date("2027-03-01T12:00:00Z")
	globalWindow = apikey.Brownout{Start: date("2026-12-01T10:00:00Z"), End: date("2026-12-01T14:00:00Z")}
	acmeWindow   = apikey.Brownout{Start: date("2026-12-15T10:00:00Z"), End: date("2026-12-15T12:00:00Z"), Tenants: []string{"acme", "initech"}}
	day          = 24 * time.Hour
)

func planTimeline() apikey.Timeline {
	return apikey.Timeline{
		DeprecatedAt:      ptr(planDeprecated),
		KeysOffAt:         ptr(planOff),
		MigrationGuideURL: "https://docs.example.com/oauth",
		Brownouts:         []apikey.Brownout{globalWindow, acmeWindow},
		Extensions:        []apikey.Extension{{Tenant: "globex", KeysOffAt: planExtOff, Reason: "ERP freeze"}},
	}
}

func planTenants() []TenantState {
	return []TenantState{
		{ID: "acme", ActiveKeys: 2, Keys: []KeyActivity{{KeyID: "k1", Name: "erp", Requests: 5}, {KeyID: "k2", Name: "bi", Requests: 9, Refused: 1}}},
		{ID: "globex", ActiveKeys: 1, Keys: []KeyActivity{{KeyID: "k3", Name: "sftp"}}},
		{ID: "initech", ActiveKeys: 0},
		{ID: store.PlatformTenant, ActiveKeys: 3},
	}
}

func opBrownout(verb string, b apikey.Brownout) string {
	return "brownout-" + verb + "-platform-" + b.Start.Format(idTime) + "-" + windowHash(b)
}

func TestPlan(t *testing.T) {
	t.Parallel()
	const offID = "2027-01-01T12:00:00Z"
	const extID = "2027-03-01T12:00:00Z"
	tests := []struct {
		name      string
		now, last time.Time
		timeline  func(*apikey.Timeline)
		want      []string
	}{
		{name: "exactly 30 days before keys_off_at", now: planOff.Add(-30 * day), last: planOff.Add(-30*day - time.Minute),
			want: []string{"reminder-30d-acme-" + offID}},
		{name: "one second before the 30-day mark", now: planOff.Add(-30*day - time.Second), last: planOff.Add(-30*day - time.Minute)},
		{name: "last run exactly at the mark already sent it", now: planOff.Add(-30*day + time.Minute), last: planOff.Add(-30 * day)},
		{name: "one second after the mark, last run just before", now: planOff.Add(-30*day + time.Second), last: planOff.Add(-30*day - time.Second),
			want: []string{"reminder-30d-acme-" + offID}},
		{name: "7 days before", now: planOff.Add(-7 * day), last: planOff.Add(-7*day - time.Minute),
			want: []string{"reminder-7d-acme-" + offID}},
		{name: "1 day before", now: planOff.Add(-1 * day), last: planOff.Add(-1*day - time.Minute),
			want: []string{"reminder-1d-acme-" + offID}},
		{name: "at keys_off_at no more reminder", now: planOff, last: planOff.Add(-time.Minute)},
		{name: "extension moves the tenant's reminders", now: planExtOff.Add(-30 * day), last: planExtOff.Add(-30*day - time.Minute),
			want: []string{"reminder-30d-globex-" + extID}},
		{name: "extension moves the tenant's 1-day reminder", now: planExtOff.Add(-day), last: planExtOff.Add(-day - time.Minute),
			want: []string{"reminder-1d-globex-" + extID}},
		{name: "extended by a later edit: new reminders for the new date", now: planOff.Add(-7 * day), last: planOff.Add(-7*day - time.Minute),
			timeline: func(tl *apikey.Timeline) {
				tl.Extensions = append(tl.Extensions, apikey.Extension{Tenant: "acme", KeysOffAt: planOff.Add(23 * day), Reason: "r"})
			},
			want: []string{"reminder-30d-acme-2027-01-24T12:00:00Z"}},
		{name: "no keys_off_at, no reminders", now: planOff.Add(-7 * day), last: planOff.Add(-7*day - time.Minute),
			timeline: func(tl *apikey.Timeline) { tl.KeysOffAt, tl.Extensions = nil, nil }},
		{name: "global brownout starts: tenants without extension and the operator", now: globalWindow.Start, last: globalWindow.Start.Add(-time.Minute),
			want: []string{"brownout-started-acme-2026-12-01T10:00:00Z", opBrownout("started", globalWindow)}},
		{name: "one second before a brownout", now: globalWindow.Start.Add(-time.Second), last: globalWindow.Start.Add(-time.Minute)},
		{name: "global brownout ends", now: globalWindow.End, last: globalWindow.End.Add(-time.Minute),
			want: []string{"brownout-ended-acme-2026-12-01T10:00:00Z", opBrownout("ended", globalWindow)}},
		{name: "one second before a brownout ends", now: globalWindow.End.Add(-time.Second), last: globalWindow.End.Add(-time.Minute)},
		{name: "listed brownout: listed tenants with keys and the operator", now: acmeWindow.Start.Add(time.Second), last: acmeWindow.Start.Add(-time.Second),
			want: []string{"brownout-started-acme-2026-12-15T10:00:00Z", opBrownout("started", acmeWindow)}},
		{name: "midnight: digests of the day before", now: date("2026-12-02T00:00:00Z"), last: date("2026-12-01T23:59:00Z"),
			want: []string{"digest-acme-2026-12-01", "digest-globex-2026-12-01", "digest-platform-2026-12-01"}},
		{name: "one second before midnight: no digest", now: date("2026-12-01T23:59:59Z"), last: date("2026-12-01T23:59:00Z")},
		{name: "no digest before deprecated_at", now: planDeprecated.Add(-day), last: planDeprecated.Add(-day - time.Minute)},
		{name: "first digest at deprecated_at", now: planDeprecated, last: planDeprecated.Add(-time.Minute),
			want: []string{"digest-acme-2026-05-31", "digest-globex-2026-05-31", "digest-platform-2026-05-31"}},
		{name: "first run catches up at most a day", now: planOff.Add(-7*day + 23*time.Hour), last: time.Time{},
			want: []string{"reminder-7d-acme-" + offID, "digest-acme-2026-12-25", "digest-globex-2026-12-25", "digest-platform-2026-12-25"}},
		{name: "old last run catches up at most a day", now: planOff.Add(-7*day + 25*time.Hour), last: planOff.Add(-8 * day),
			want: []string{"digest-acme-2026-12-25", "digest-globex-2026-12-25", "digest-platform-2026-12-25"}},
		{name: "a day's window: digest and reminder, by trigger time", now: planOff.Add(-7*day + 10*time.Minute), last: planOff.Add(-8 * day),
			want: []string{"digest-acme-2026-12-24", "digest-globex-2026-12-24", "digest-platform-2026-12-24", "reminder-7d-acme-" + offID}},
		{name: "sunset at midnight: reminder and digest together", now: date("2026-12-25T00:00:00Z"), last: date("2026-12-24T23:59:00Z"),
			timeline: func(tl *apikey.Timeline) { tl.KeysOffAt = ptr(date("2027-01-01T00:00:00Z")) },
			want:     []string{"digest-acme-2026-12-24", "digest-globex-2026-12-24", "digest-platform-2026-12-24", "reminder-7d-acme-2027-01-01T00:00:00Z"}},
		{name: "last run in the future plans nothing", now: planOff.Add(-30 * day), last: planOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tl := planTimeline()
			if tt.timeline != nil {
				tt.timeline(&tl)
			}
			if err := tl.Validate(); err != nil {
				t.Fatalf("test timeline invalid: %v", err)
			}
			got := ids(Plan(tt.now, tt.last, tl, planTenants()))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan(now %s, last %s) =\n  %q\nwant\n  %q", tt.now.Format(time.RFC3339), tt.last.Format(time.RFC3339), got, tt.want)
			}
		})
	}
}

func ids(msgs []store.OutboxMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func TestPlan_Messages(t *testing.T) {
	t.Parallel()
	now := planOff.Add(-7 * day)
	msgs := Plan(now.Add(time.Minute), now.Add(-time.Second), planTimeline(), planTenants())
	if len(msgs) != 1 {
		t.Fatalf("Plan = %q", ids(msgs))
	}
	m := msgs[0]
	if m.Tenant != "acme" || m.Topic != TopicReminder || !m.CreatedAt.Equal(now) || !m.NextAttemptAt.Equal(now.Add(time.Minute)) {
		t.Errorf("reminder = %+v; want for acme, created at the trigger, due at once", m)
	}
	var r ReminderData
	mustJSON(t, m.Payload, &r)
	want := ReminderData{KeysOffAt: planOff, DaysBefore: 7, ActiveKeys: 2, MigrationGuideURL: "https://docs.example.com/oauth"}
	if r != want {
		t.Errorf("reminder data = %+v, want %+v", r, want)
	}

	ext := Plan(planExtOff.Add(-day), planExtOff.Add(-day-time.Second), planTimeline(), planTenants())
	mustJSON(t, ext[0].Payload, &r)
	if !r.Extended || !r.KeysOffAt.Equal(planExtOff) {
		t.Errorf("extension reminder data = %+v", r)
	}
}

func TestPlan_BrownoutPayloads(t *testing.T) {
	t.Parallel()
	msgs := Plan(globalWindow.Start, globalWindow.Start.Add(-time.Second), planTimeline(), planTenants())
	if len(msgs) != 2 {
		t.Fatalf("Plan = %q", ids(msgs))
	}
	var tenant, op BrownoutData
	mustJSON(t, msgs[0].Payload, &tenant)
	mustJSON(t, msgs[1].Payload, &op)
	if msgs[0].Tenant != "acme" || !tenant.AllTenants || tenant.Tenants != nil || !tenant.End.Equal(globalWindow.End) {
		t.Errorf("tenant notice = %+v %+v", msgs[0], tenant)
	}
	if msgs[1].Tenant != "" || !slices.Equal(op.Tenants, []string{"acme"}) {
		t.Errorf("operator notice = %+v %+v; want the affected tenants (not the extended globex)", msgs[1], op)
	}
}

func TestPlan_SameStartDifferentTenants_DistinctOperatorNotices(t *testing.T) {
	t.Parallel()
	tl := planTimeline()
	start := date("2026-12-20T10:00:00Z")
	tl.Brownouts = []apikey.Brownout{
		{Start: start, End: start.Add(time.Hour), Tenants: []string{"acme"}},
		{Start: start, End: start.Add(time.Hour), Tenants: []string{"globex"}},
	}
	if err := tl.Validate(); err != nil {
		t.Fatal(err)
	}
	got := ids(Plan(start, start.Add(-time.Second), tl, planTenants()))
	if len(got) != 4 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 4 {
		t.Errorf("Plan = %q; want two tenant and two distinct operator notices", got)
	}
}

func TestPlan_Digests(t *testing.T) {
	t.Parallel()
	tenants := planTenants()
	for i := range 150 {
		tenants[0].Keys = append(tenants[0].Keys, KeyActivity{KeyID: fmt.Sprintf("x%03d", i), Requests: int64(i % 7)})
	}
	tenants[0].ActiveKeys = len(tenants[0].Keys)
	now := date("2026-12-02T00:00:00Z")
	msgs := Plan(now, now.Add(-time.Minute), planTimeline(), tenants)
	if len(msgs) != 3 {
		t.Fatalf("Plan = %q", ids(msgs))
	}
	var d DigestData
	mustJSON(t, msgs[0].Payload, &d)
	if d.Day != "2026-12-01" || d.ActiveKeys != 152 || len(d.Keys) != MaxDigestKeys || d.KeysOffAt == nil || !d.KeysOffAt.Equal(planOff) {
		t.Errorf("acme digest: day %s, %d active, %d listed, off %v", d.Day, d.ActiveKeys, len(d.Keys), d.KeysOffAt)
	}
	if d.Keys[0].KeyID != "k2" || d.Keys[1].KeyID != "x006" || d.Keys[1].Requests != 6 {
		t.Errorf("digest keys not by requests: %+v", d.Keys[:3])
	}
	var g DigestData
	mustJSON(t, msgs[1].Payload, &g)
	if !g.KeysOffAt.Equal(planExtOff) || len(g.Keys) != 1 {
		t.Errorf("globex digest = %+v; want its extension date", g)
	}
	var op OperatorDigestData
	mustJSON(t, msgs[2].Payload, &op)
	var total int64
	for _, k := range tenants[0].Keys {
		total += k.Requests
	}
	want := []TenantSummary{
		{Tenant: "acme", ActiveKeys: 152, Requests: total, Refused: 1, KeysOffAt: ptr(planOff)},
		{Tenant: "globex", ActiveKeys: 1, KeysOffAt: ptr(planExtOff)},
	}
	if op.Day != "2026-12-01" || len(op.Tenants) != 2 || op.Tenants[0].Requests != want[0].Requests ||
		op.Tenants[0].Refused != 1 || op.Tenants[1].Tenant != "globex" || !op.Tenants[1].KeysOffAt.Equal(planExtOff) {
		t.Errorf("operator digest = %+v, want %+v", op, want)
	}
	if tenants[0].Keys[0].KeyID != "k1" {
		t.Error("Plan reordered the caller's keys")
	}
}

func TestPlan_NoTenantWithKeys_NoDigest(t *testing.T) {
	t.Parallel()
	now := date("2026-12-02T00:00:00Z")
	if got := Plan(now, now.Add(-time.Minute), planTimeline(), []TenantState{{ID: "initech"}}); len(got) != 0 {
		t.Errorf("Plan = %q; want nothing", ids(got))
	}
}

func TestPlan_SameInputs_SameMessages(t *testing.T) {
	t.Parallel()
	now := date("2026-12-02T00:00:00Z")
	a := Plan(now, time.Time{}, planTimeline(), planTenants())
	b := Plan(now, time.Time{}, planTimeline(), planTenants())
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("Plan is not deterministic")
	}
}

func mustJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

func BenchmarkPlan_NothingDue(b *testing.B) {
	tl := planTimeline()
	now := date("2026-12-05T12:00:00Z")
	probe := probeTenants(tl)
	b.ReportAllocs()
	for b.Loop() {
		if len(Plan(now, now.Add(-time.Minute), tl, probe)) != 0 {
			b.Fatal("something due")
		}
	}
}
