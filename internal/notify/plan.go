package notify

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// Topics of notifications.
const (
	// TopicReminder: the tenant's keys_off_at is 30, 7 or 1 days away.
	TopicReminder = "keys.sunset_reminder"
	// TopicBrownoutStarted and TopicBrownoutEnded bracket a brownout window.
	TopicBrownoutStarted = "keys.brownout_started"
	TopicBrownoutEnded   = "keys.brownout_ended"
	// TopicDigest lists a tenant's keys still active and their use yesterday.
	TopicDigest = "keys.daily_digest"
	// TopicOperatorDigest summarises every tenant still using keys.
	TopicOperatorDigest = "keys.operator_digest"
	// TopicKeyDisabled: a key was disabled (by an admin or automatically).
	TopicKeyDisabled = "key.disabled"
)

// ReminderDays are the days before a tenant's keys_off_at that a reminder is
// sent.
var ReminderDays = [...]int{30, 7, 1}

// MaxCatchUp bounds how far back Plan looks for missed triggers, however old
// lastRun is. It must stay well below the outbox retention (7 days): the
// deterministic IDs that stop a second send only work while the first
// message is still stored.
const MaxCatchUp = 24 * time.Hour

// MaxDigestKeys bounds the keys a tenant digest lists (most requests first).
const MaxDigestKeys = 100

// idTime formats times inside message IDs: fixed length, so an ID maps back
// to one (tenant, time) pair whatever the tenant's name.
const idTime = "2006-01-02T15:04:05Z"

// TenantState is what Plan needs to know about a tenant.
type TenantState struct {
	ID string
	// ActiveKeys counts the tenant's active tenant-owned keys. Tenants
	// without any get no reminders, brownout notices or digests.
	ActiveKeys int
	// Keys are the active tenant-owned keys with their use on the digest
	// day (the UTC day before now). Only read when a digest is due.
	Keys []KeyActivity
}

// KeyActivity is one key's use on one UTC day.
type KeyActivity struct {
	KeyID string `json:"key_id"`
	Name  string `json:"name"`
	// Requests counts every use, accepted or refused.
	Requests   int64      `json:"requests"`
	Refused    int64      `json:"refused"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// ReminderData is the data of a TopicReminder event.
type ReminderData struct {
	KeysOffAt  time.Time `json:"keys_off_at"`
	DaysBefore int       `json:"days_before"`
	ActiveKeys int       `json:"active_keys"`
	// Extended is set when keys_off_at is the tenant's extension.
	Extended          bool   `json:"extended"`
	MigrationGuideURL string `json:"migration_guide_url,omitempty"`
}

// BrownoutData is the data of brownout events.
type BrownoutData struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// AllTenants is set for a window over every tenant without extension.
	AllTenants bool `json:"all_tenants"`
	// Tenants lists, for the operator, the tenants with active keys that
	// the window refuses.
	Tenants           []string `json:"tenants,omitempty"`
	MigrationGuideURL string   `json:"migration_guide_url,omitempty"`
}

// DigestData is the data of a TopicDigest event.
type DigestData struct {
	Day               string        `json:"day"` // YYYY-MM-DD, UTC
	KeysOffAt         *time.Time    `json:"keys_off_at,omitempty"`
	ActiveKeys        int           `json:"active_keys"`
	Keys              []KeyActivity `json:"keys"`
	MigrationGuideURL string        `json:"migration_guide_url,omitempty"`
}

// TenantSummary is one tenant's line in the operator digest.
type TenantSummary struct {
	Tenant     string     `json:"tenant"`
	ActiveKeys int        `json:"active_keys"`
	Requests   int64      `json:"requests"`
	Refused    int64      `json:"refused"`
	KeysOffAt  *time.Time `json:"keys_off_at,omitempty"`
}

// OperatorDigestData is the data of a TopicOperatorDigest event.
type OperatorDigestData struct {
	Day     string          `json:"day"`
	Tenants []TenantSummary `json:"tenants"`
}

// Plan returns the notifications whose trigger time falls in (lastRun, now]
// — or (now-MaxCatchUp, now] when lastRun is older — ordered by trigger time
// then ID. It is pure: every instance planning the same window gets the same
// messages with the same deterministic IDs, and the outbox refuses the second
// copy.
//
// Triggers: ReminderDays before each tenant's effective keys_off_at; the
// start and end of each brownout window, to the tenants it refuses and to the
// operator; and at each UTC midnight from deprecated_at on, the digest of the
// day before to each tenant with active keys and to the operator. The
// platform tenant gets none: its keys are never refused.
func Plan(now, lastRun time.Time, t apikey.Timeline, tenants []TenantState) []store.OutboxMessage {
	p := planner{now: now.UTC(), from: lastRun.UTC(), t: t}
	if floor := p.now.Add(-MaxCatchUp); p.from.Before(floor) {
		p.from = floor
	}
	active := make([]TenantState, 0, len(tenants))
	for _, ts := range tenants {
		if ts.ActiveKeys > 0 && ts.ID != store.PlatformTenant && ts.ID != "" {
			active = append(active, ts)
		}
	}
	p.reminders(active)
	p.brownouts(active)
	p.digests(active)
	slices.SortFunc(p.out, func(a, b store.OutboxMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return p.out
}

type planner struct {
	now, from time.Time
	t         apikey.Timeline
	out       []store.OutboxMessage
}

// due reports whether a trigger at at falls in the window.
func (p *planner) due(at time.Time) bool { return at.After(p.from) && !at.After(p.now) }

// add appends a message triggered at at; recipient "" is the operator.
func (p *planner) add(id, recipient, topic string, at time.Time, data any) {
	body, err := json.Marshal(data)
	if err != nil {
		panic("notify: marshal planned payload: " + err.Error()) // plain structs: cannot fail
	}
	p.out = append(p.out, store.OutboxMessage{
		ID: id, Tenant: recipient, Topic: topic, Payload: body,
		CreatedAt: at.UTC(), NextAttemptAt: p.now,
	})
}

func (p *planner) reminders(active []TenantState) {
	for _, ts := range active {
		off, ok := p.t.EffectiveKeysOff(ts.ID)
		if !ok {
			continue
		}
		off = off.UTC()
		for _, days := range ReminderDays {
			at := off.Add(-time.Duration(days) * 24 * time.Hour)
			if !p.due(at) {
				continue
			}
			id := "reminder-" + itoa(days) + "d-" + ts.ID + "-" + off.Format(idTime)
			p.add(id, ts.ID, TopicReminder, at, ReminderData{
				KeysOffAt: off, DaysBefore: days, ActiveKeys: ts.ActiveKeys,
				Extended: p.extended(ts.ID), MigrationGuideURL: p.t.MigrationGuideURL,
			})
		}
	}
}

func (p *planner) extended(tenant string) bool {
	return slices.ContainsFunc(p.t.Extensions, func(x apikey.Extension) bool { return x.Tenant == tenant })
}

func (p *planner) brownouts(active []TenantState) {
	for _, b := range p.t.Brownouts {
		start, end := b.Start.UTC(), b.End.UTC()
		for _, edge := range []struct {
			at    time.Time
			topic string
			verb  string
		}{{start, TopicBrownoutStarted, "started"}, {end, TopicBrownoutEnded, "ended"}} {
			if !p.due(edge.at) {
				continue
			}
			affected := p.affected(b, active)
			for _, tenant := range affected {
				p.add("brownout-"+edge.verb+"-"+tenant+"-"+start.Format(idTime), tenant, edge.topic, edge.at,
					BrownoutData{Start: start, End: end, AllTenants: len(b.Tenants) == 0, MigrationGuideURL: p.t.MigrationGuideURL})
			}
			p.add("brownout-"+edge.verb+"-"+store.PlatformTenant+"-"+start.Format(idTime)+"-"+windowHash(b), "", edge.topic, edge.at,
				BrownoutData{Start: start, End: end, AllTenants: len(b.Tenants) == 0, Tenants: affected})
		}
	}
}

// affected returns the tenants with active keys that window b refuses: the
// listed ones, or for a global window every tenant without an extension
// (as apikey.Decide has it).
func (p *planner) affected(b apikey.Brownout, active []TenantState) []string {
	out := []string{}
	for _, ts := range active {
		if len(b.Tenants) == 0 && !p.extended(ts.ID) || slices.Contains(b.Tenants, ts.ID) {
			out = append(out, ts.ID)
		}
	}
	slices.Sort(out)
	return out
}

// windowHash tells apart operator notices of windows that start at the same
// instant for different tenants.
func windowHash(b apikey.Brownout) string {
	tenants := slices.Clone(b.Tenants)
	slices.Sort(tenants)
	sum := sha256.Sum256([]byte(b.End.UTC().Format(idTime) + "|" + strings.Join(tenants, ",")))
	return hex.EncodeToString(sum[:4])
}

func (p *planner) digests(active []TenantState) {
	midnight := apikey.MidnightUTC(p.now)
	if !p.due(midnight) || p.t.DeprecatedAt == nil || midnight.Before(*p.t.DeprecatedAt) || len(active) == 0 {
		return
	}
	day := midnight.Add(-24 * time.Hour).Format(time.DateOnly)
	summaries := make([]TenantSummary, 0, len(active))
	for _, ts := range active {
		var offPtr *time.Time
		if off, ok := p.t.EffectiveKeysOff(ts.ID); ok {
			off = off.UTC()
			offPtr = &off
		}
		keys := slices.Clone(ts.Keys)
		sum := TenantSummary{Tenant: ts.ID, ActiveKeys: ts.ActiveKeys, KeysOffAt: offPtr}
		for _, k := range keys {
			sum.Requests += k.Requests
			sum.Refused += k.Refused
		}
		summaries = append(summaries, sum)
		slices.SortFunc(keys, func(a, b KeyActivity) int {
			return cmp.Or(cmp.Compare(b.Requests, a.Requests), strings.Compare(a.KeyID, b.KeyID))
		})
		if len(keys) > MaxDigestKeys {
			keys = keys[:MaxDigestKeys]
		}
		if keys == nil {
			keys = []KeyActivity{}
		}
		p.add("digest-"+ts.ID+"-"+day, ts.ID, TopicDigest, midnight, DigestData{
			Day: day, KeysOffAt: offPtr, ActiveKeys: ts.ActiveKeys, Keys: keys, MigrationGuideURL: p.t.MigrationGuideURL,
		})
	}
	slices.SortFunc(summaries, func(a, b TenantSummary) int { return strings.Compare(a.Tenant, b.Tenant) })
	p.add("digest-"+store.PlatformTenant+"-"+day, "", TopicOperatorDigest, midnight,
		OperatorDigestData{Day: day, Tenants: summaries})
}

func itoa(n int) string { return strconv.Itoa(n) }
