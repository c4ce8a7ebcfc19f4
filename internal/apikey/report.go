package apikey

import (
	"cmp"
	"slices"
	"time"
)

// Migration statuses of a tenant.
const (
	// TenantNotStarted: the tenant has active keys and no OAuth client.
	TenantNotStarted = "not_started"
	// TenantInProgress: the tenant has active keys and has begun to move
	// (it has an OAuth client, or a converted, disabled or revoked key).
	TenantInProgress = "in_progress"
	// TenantMigrated: the tenant has no active tenant-owned key left.
	TenantMigrated = "migrated"
)

// KeyUsage is how often a key was used (accepted and refused requests) in
// the last 1, 7 and 30 UTC days, today included.
type KeyUsage struct {
	Requests1d  int64 `json:"requests_1d"`
	Requests7d  int64 `json:"requests_7d"`
	Requests30d int64 `json:"requests_30d"`
}

// AddDay counts the requests of one UTC day into the windows that contain
// it, seen from now. Days after now's date or older than 30 days are
// ignored.
func (u *KeyUsage) AddDay(day time.Time, requests int64, now time.Time) {
	today := MidnightUTC(now.UTC())
	age := int(today.Sub(MidnightUTC(day.UTC())) / (24 * time.Hour))
	if age < 0 || age >= 30 {
		return
	}
	u.Requests30d += requests
	if age < 7 {
		u.Requests7d += requests
	}
	if age < 1 {
		u.Requests1d += requests
	}
}

// RefusedKey is a key the timeline would refuse at the report's instant.
type RefusedKey struct {
	KeyID       string `json:"key_id"`
	Name        string `json:"name"`
	Owner       Owner  `json:"owner"`
	Decision    string `json:"decision"`
	Requests30d int64  `json:"requests_30d"`
}

// TenantReport is one tenant's line of the migration report.
type TenantReport struct {
	Tenant string `json:"tenant"`
	Status string `json:"status"`
	// ActiveKeys counts active, unexpired tenant-owned keys.
	ActiveKeys int `json:"active_keys"`
	// KeysInUse30d counts those of them used in the last 30 days.
	KeysInUse30d int `json:"keys_in_use_30d"`
	// PlatformKeys counts active platform-owned keys, which the timeline
	// does not retire.
	PlatformKeys  int `json:"platform_keys"`
	ConvertedKeys int `json:"converted_keys"`
	Clients       int `json:"clients"`
	// KeysOffAt is the tenant's effective keys_off_at (its extension, else
	// the global milestone).
	KeysOffAt *time.Time `json:"keys_off_at"`
	// WouldBeRefused lists the keys live now (active, unexpired) that
	// Decide refuses at the report's instant, the busiest first.
	WouldBeRefused []RefusedKey `json:"would_be_refused"`

	inactiveTenantKeys int
}

// Report is the migration report (GET /admin/v1/migration).
type Report struct {
	At      time.Time      `json:"at"`
	Tenants []TenantReport `json:"tenants"`
}

// ReportBuilder accumulates tenants and keys one at a time, so a report
// over a million keys holds only per-tenant counters and the refused keys.
// It is pure: every input comes through its methods.
type ReportBuilder struct {
	tl      Timeline
	now, at time.Time
	infos   map[string]TenantInfo
	tenants map[string]*TenantReport
}

// NewReportBuilder starts a report of timeline tl. now counts usage and
// tells active keys from expired ones; at is the instant whose decisions
// fill would_be_refused (now, or a future date for an impact report).
func NewReportBuilder(tl Timeline, now, at time.Time) *ReportBuilder {
	return &ReportBuilder{tl: tl, now: now, at: at, infos: map[string]TenantInfo{}, tenants: map[string]*TenantReport{}}
}

// AddTenant adds a tenant with its number of OAuth clients.
func (b *ReportBuilder) AddTenant(t TenantInfo, clients int) {
	b.tenant(t.ID).Clients += clients
	b.infos[t.ID] = t
}

func (b *ReportBuilder) tenant(id string) *TenantReport {
	tr := b.tenants[id]
	if tr == nil {
		tr = &TenantReport{Tenant: id, WouldBeRefused: []RefusedKey{}}
		if off, ok := b.tl.EffectiveKeysOff(id); ok {
			tr.KeysOffAt = &off
		}
		b.tenants[id] = tr
	}
	return tr
}

// AddKey adds one key of a tenant and its usage.
func (b *ReportBuilder) AddKey(k Key, u KeyUsage) {
	tr := b.tenant(k.Tenant)
	if k.ConvertedToClient != "" {
		tr.ConvertedKeys++
	}
	live := k.Status == StatusActive && (k.ExpiresAt == nil || b.now.Before(*k.ExpiresAt))
	switch {
	case k.Owner == OwnerPlatform:
		if live {
			tr.PlatformKeys++
		}
	case live:
		tr.ActiveKeys++
		if u.Requests30d > 0 {
			tr.KeysInUse30d++
		}
	default:
		tr.inactiveTenantKeys++
	}
	if !live {
		return // already refused (disabled, revoked or expired): not an impact of the timeline
	}
	info := b.infos[k.Tenant]
	info.ID = k.Tenant
	if d := Decide(b.tl, info, k, b.at); !d.Accepted {
		tr.WouldBeRefused = append(tr.WouldBeRefused, RefusedKey{
			KeyID: k.ID, Name: k.Name, Owner: k.Owner, Decision: d.Code, Requests30d: u.Requests30d})
	}
}

// Report returns the report, tenants by ID.
func (b *ReportBuilder) Report() Report {
	r := Report{At: b.at, Tenants: make([]TenantReport, 0, len(b.tenants))}
	for _, tr := range b.tenants {
		switch {
		case tr.ActiveKeys == 0:
			tr.Status = TenantMigrated
		case tr.Clients > 0 || tr.ConvertedKeys > 0 || tr.inactiveTenantKeys > 0:
			tr.Status = TenantInProgress
		default:
			tr.Status = TenantNotStarted
		}
		slices.SortStableFunc(tr.WouldBeRefused, func(x, y RefusedKey) int {
			return cmp.Or(cmp.Compare(y.Requests30d, x.Requests30d), cmp.Compare(x.KeyID, y.KeyID))
		})
		r.Tenants = append(r.Tenants, *tr)
	}
	slices.SortFunc(r.Tenants, func(x, y TenantReport) int { return cmp.Compare(x.Tenant, y.Tenant) })
	return r
}

// ReportTenant and ReportKey are the inputs of BuildReport.
type (
	ReportTenant struct {
		Info    TenantInfo
		Clients int
	}
	ReportKey struct {
		Key   Key
		Usage KeyUsage
	}
)

// BuildReport builds the migration report from whole lists; see
// ReportBuilder for the streaming form and the meaning of now and at.
func BuildReport(tl Timeline, now, at time.Time, tenants []ReportTenant, keys []ReportKey) Report {
	b := NewReportBuilder(tl, now, at)
	for _, t := range tenants {
		b.AddTenant(t.Info, t.Clients)
	}
	for _, k := range keys {
		b.AddKey(k.Key, k.Usage)
	}
	return b.Report()
}
