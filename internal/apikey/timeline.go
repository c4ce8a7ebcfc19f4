package apikey

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/weburl"
)

// Limits on a timeline, so that validation and every Decide stay cheap and a
// typo of an extra zero is caught.
const (
	MaxBrownout            = 7 * 24 * time.Hour
	MaxBrownouts           = 1000
	MaxDisableUnusedDays   = 3650
	maxTimelineTenantNames = 10000
)

// Timeline is the sunset schedule of tenant-owned keys, as stored and as
// served by GET/PUT /admin/v1/timeline. Any milestone may be nil (JSON null).
//
// A Timeline shared with Decide must not be mutated afterwards: decisions
// point into it. Replace it as a whole instead.
type Timeline struct {
	// DeprecatedAt is when keys are announced as deprecated; from then on
	// responses carry a Deprecation header (RFC 9745).
	DeprecatedAt *time.Time `json:"deprecated_at"`
	// TenantOAuthOnlyAfter: tenants created after it get no tenant keys.
	TenantOAuthOnlyAfter *time.Time `json:"tenant_oauth_only_after"`
	// NoNewKeysAt: from then on no tenant may create a key.
	NoNewKeysAt *time.Time `json:"no_new_keys_at"`
	// KeysOffAt is the global sunset: tenant keys are refused from then on
	// unless the tenant has an extension.
	KeysOffAt         *time.Time `json:"keys_off_at"`
	MigrationGuideURL string     `json:"migration_guide_url"`
	// DisableUnusedAfterDays disables tenant keys unused for that many days
	// once keys are deprecated; 0 turns it off.
	DisableUnusedAfterDays int         `json:"disable_unused_after_days"`
	Brownouts              []Brownout  `json:"brownouts"`
	Extensions             []Extension `json:"extensions"`
}

// Brownout is a window [Start, End) in which tenant keys are refused, to make
// integrations that have not moved visible before the final cut.
type Brownout struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Tenants limits the brownout to those tenants; empty means all tenants
	// without an extension.
	Tenants []string `json:"tenants"`
}

// Extension moves one tenant's keys_off_at later.
type Extension struct {
	Tenant    string    `json:"tenant"`
	KeysOffAt time.Time `json:"keys_off_at"`
	Reason    string    `json:"reason"`
	GrantedBy string    `json:"granted_by,omitempty"`
	GrantedAt time.Time `json:"granted_at,omitzero"`
}

// Problem is one inconsistency in a timeline.
type Problem struct {
	// Field is the JSON path of the offending field, e.g. "brownouts[1].end".
	Field string
	// Message is a full sentence naming the field and why it is wrong.
	Message string
}

// ValidationError lists every problem of a timeline, so an operator fixes them
// in one pass rather than one per attempt.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems into one message.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid timeline: ")
	} else {
		fmt.Fprintf(&b, "invalid timeline (%d problems): ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: field + " " + fmt.Sprintf(format, args...)})
}

// Validate checks that the timeline is consistent and returns a
// *ValidationError listing every problem, or nil.
func (t Timeline) Validate() error {
	var ps problems
	t.validateMilestones(&ps)
	t.validateSettings(&ps)
	t.validateExtensions(&ps)
	t.validateBrownouts(&ps)
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

func (t Timeline) validateMilestones(ps *problems) {
	named := []struct {
		field string
		at    *time.Time
	}{
		{"deprecated_at", t.DeprecatedAt},
		{"tenant_oauth_only_after", t.TenantOAuthOnlyAfter},
		{"no_new_keys_at", t.NoNewKeysAt},
		{"keys_off_at", t.KeysOffAt},
	}
	for _, n := range named {
		if n.at != nil && n.at.IsZero() {
			ps.add(n.field, "is the zero time: use null for an unset milestone")
		}
	}
	// tenant_oauth_only_after is deliberately unordered: it only concerns
	// tenants created later, so it may well precede the public deprecation.
	order := []struct {
		early, late string
		e, l        *time.Time
		why         string
	}{
		{"deprecated_at", "no_new_keys_at", t.DeprecatedAt, t.NoNewKeysAt,
			"key creation must not stop before keys are announced as deprecated"},
		{"deprecated_at", "keys_off_at", t.DeprecatedAt, t.KeysOffAt,
			"a sunset must not be earlier than the deprecation (RFC 8594)"},
		{"no_new_keys_at", "keys_off_at", t.NoNewKeysAt, t.KeysOffAt,
			"keys must stop being created before they stop being accepted"},
	}
	for _, o := range order {
		if o.e != nil && o.l != nil && o.l.Before(*o.e) {
			ps.add(o.late, "(%s) is before %s (%s): %s", fmtTime(*o.l), o.early, fmtTime(*o.e), o.why)
		}
	}
}

func (t Timeline) validateSettings(ps *problems) {
	if d := t.DisableUnusedAfterDays; d < 0 || d > MaxDisableUnusedDays {
		ps.add("disable_unused_after_days", "(%d) must be between 0 (off) and %d", d, MaxDisableUnusedDays)
	}
	if t.MigrationGuideURL != "" {
		if err := checkGuideURL(t.MigrationGuideURL); err != nil {
			ps.add("migration_guide_url", "(%q) %v", t.MigrationGuideURL, err)
		}
	}
}

// checkGuideURL requires https, or http on a loopback host for development:
// the guide is linked from every key response and must not be tampered with.
func checkGuideURL(s string) error {
	_, err := weburl.CheckSecure(s)
	return err
}

func (t Timeline) validateExtensions(ps *problems) {
	if len(t.Extensions) > maxTimelineTenantNames {
		ps.add("extensions", "has %d entries, more than %d", len(t.Extensions), maxTimelineTenantNames)
		return
	}
	seen := make(map[string]int, len(t.Extensions))
	for i, x := range t.Extensions {
		f := fmt.Sprintf("extensions[%d]", i)
		if x.Tenant == "" {
			ps.add(f+".tenant", "is required")
		} else if j, dup := seen[x.Tenant]; dup {
			ps.add(f+".tenant", "(%q) already has an extension at extensions[%d]: one per tenant", x.Tenant, j)
		} else {
			seen[x.Tenant] = i
		}
		if strings.TrimSpace(x.Reason) == "" {
			ps.add(f+".reason", "is required: say why the tenant needs more time")
		}
		switch {
		case t.KeysOffAt == nil:
			ps.add(f+".keys_off_at", "extends nothing: set the global keys_off_at first")
		case !x.KeysOffAt.After(*t.KeysOffAt):
			ps.add(f+".keys_off_at", "(%s) must be after the global keys_off_at (%s)", fmtTime(x.KeysOffAt), fmtTime(*t.KeysOffAt))
		}
	}
}

func (t Timeline) validateBrownouts(ps *problems) {
	if len(t.Brownouts) > MaxBrownouts {
		ps.add("brownouts", "has %d entries, more than %d", len(t.Brownouts), MaxBrownouts)
		return
	}
	for i, b := range t.Brownouts {
		t.validateBrownout(ps, fmt.Sprintf("brownouts[%d]", i), b)
	}
	for i := range t.Brownouts {
		for j := i + 1; j < len(t.Brownouts); j++ {
			a, b := t.Brownouts[i], t.Brownouts[j]
			if a.Start.Before(a.End) && b.Start.Before(b.End) && // invalid windows are reported above
				a.Start.Before(b.End) && b.Start.Before(a.End) && sharesTenant(a.Tenants, b.Tenants) {
				ps.add(fmt.Sprintf("brownouts[%d]", j), "(%s to %s) overlaps brownouts[%d] (%s to %s) for the same tenants: merge them",
					fmtTime(b.Start), fmtTime(b.End), i, fmtTime(a.Start), fmtTime(a.End))
			}
		}
	}
}

func (t Timeline) validateBrownout(ps *problems, f string, b Brownout) {
	switch {
	case b.Start.IsZero() || b.End.IsZero():
		ps.add(f, "needs both start and end")
		return
	case !b.Start.Before(b.End):
		ps.add(f+".end", "(%s) must be after start (%s)", fmtTime(b.End), fmtTime(b.Start))
		return
	case b.End.Sub(b.Start) > MaxBrownout:
		ps.add(f, "lasts %s, longer than 7 days: a longer refusal is a sunset, not a brownout", b.End.Sub(b.Start))
	}
	if t.DeprecatedAt == nil {
		ps.add(f, "needs deprecated_at: keys must be announced as deprecated before any brownout")
	} else if b.Start.Before(*t.DeprecatedAt) {
		ps.add(f+".start", "(%s) is before deprecated_at (%s): keys must be announced as deprecated before any brownout",
			fmtTime(b.Start), fmtTime(*t.DeprecatedAt))
	}
	if len(b.Tenants) == 0 {
		if t.KeysOffAt != nil && !b.Start.Before(*t.KeysOffAt) {
			ps.add(f+".start", "(%s) is not before keys_off_at (%s): keys are already off", fmtTime(b.Start), fmtTime(*t.KeysOffAt))
		}
		return
	}
	seen := make(map[string]bool, len(b.Tenants))
	for j, tenant := range b.Tenants {
		tf := fmt.Sprintf("%s.tenants[%d]", f, j)
		switch {
		case tenant == "":
			ps.add(tf, "is empty")
		case seen[tenant]:
			ps.add(tf, "(%q) is listed twice", tenant)
		default:
			if off, ok := t.EffectiveKeysOff(tenant); ok && !b.Start.Before(off) {
				ps.add(f+".start", "(%s) is not before keys_off_at of tenant %q (%s): its keys are already off",
					fmtTime(b.Start), tenant, fmtTime(off))
			}
		}
		seen[tenant] = true
	}
}

// sharesTenant reports whether two brownouts' tenant lists intersect; an empty
// list means every tenant.
func sharesTenant(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// EffectiveKeysOff returns the tenant's keys_off_at: its extension if it has
// one, else the global milestone. ok is false when neither is set.
func (t Timeline) EffectiveKeysOff(tenant string) (off time.Time, ok bool) {
	if x := t.extension(tenant); x != nil {
		return x.KeysOffAt, true
	}
	if t.KeysOffAt != nil {
		return *t.KeysOffAt, true
	}
	return time.Time{}, false
}

// extension returns the tenant's extension, pointing into t.Extensions so that
// Decide can hand out its time without allocating.
func (t Timeline) extension(tenant string) *Extension {
	for i := range t.Extensions {
		if t.Extensions[i].Tenant == tenant {
			return &t.Extensions[i]
		}
	}
	return nil
}

// fmtTime shows a date alone when it is midnight UTC, else RFC 3339.
func fmtTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(MidnightUTC(t)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// Normalized returns a copy of t in canonical form, for storing and showing:
// times in UTC without monotonic readings, brownouts by start, extensions by
// tenant, brownout tenants sorted, and empty lists rather than nil so the JSON
// shows [] instead of null. It shares nothing with t.
func (t Timeline) Normalized() Timeline {
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		v := p.UTC().Round(0)
		return &v
	}
	n := t
	n.DeprecatedAt, n.TenantOAuthOnlyAfter = utc(t.DeprecatedAt), utc(t.TenantOAuthOnlyAfter)
	n.NoNewKeysAt, n.KeysOffAt = utc(t.NoNewKeysAt), utc(t.KeysOffAt)
	n.Brownouts = make([]Brownout, len(t.Brownouts))
	for i, b := range t.Brownouts {
		tenants := slices.Clone(b.Tenants)
		if tenants == nil {
			tenants = []string{}
		}
		slices.Sort(tenants)
		n.Brownouts[i] = Brownout{Start: b.Start.UTC().Round(0), End: b.End.UTC().Round(0), Tenants: tenants}
	}
	slices.SortStableFunc(n.Brownouts, func(a, b Brownout) int { return a.Start.Compare(b.Start) })
	n.Extensions = make([]Extension, len(t.Extensions))
	for i, x := range t.Extensions {
		x.KeysOffAt, x.GrantedAt = x.KeysOffAt.UTC().Round(0), x.GrantedAt.UTC().Round(0)
		n.Extensions[i] = x
	}
	slices.SortStableFunc(n.Extensions, func(a, b Extension) int { return strings.Compare(a.Tenant, b.Tenant) })
	return n
}
