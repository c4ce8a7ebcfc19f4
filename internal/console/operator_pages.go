package console

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/console/chart"
	"github.com/keyshift/keyshift/internal/store"
)

func (c *Console) operatorRoutes() {
	m := c.mux
	m.Handle("GET /console/tenants", c.operatorOnly(c.tenants))
	m.Handle("GET /console/timeline", c.operatorOnly(c.timeline))
	m.Handle("POST /console/timeline", c.operatorOnly(c.saveTimeline))
	m.Handle("POST /console/timeline/brownouts", c.operatorOnly(c.addBrownout))
	m.Handle("POST /console/timeline/brownouts/remove", c.operatorOnly(c.removeBrownout))
	m.Handle("POST /console/timeline/extensions", c.operatorOnly(c.addExtension))
	m.Handle("GET /console/impact", c.operatorOnly(c.impact))
	m.Handle("GET /console/signing-keys", c.operatorOnly(c.signingKeys))
	m.Handle("POST /console/signing-keys/rotate", c.operatorOnly(c.rotateKeys))
}

// tenantRow is one tenant of the operator's table.
type tenantRow struct {
	apikey.TenantReport
	KeyRequests30d int64
}

type tenantsData struct {
	At    time.Time
	Rows  []tenantRow
	Sort  string
	Chart string
	// Disabled marks the disabled tenants (the report lists every tenant).
	Disabled map[string]bool
}

// tenantSorts are the columns the tenants table sorts by.
var tenantSorts = map[string]func(a, b tenantRow) int{
	"tenant": func(a, b tenantRow) int { return cmp.Compare(a.Tenant, b.Tenant) },
	"traffic": func(a, b tenantRow) int {
		return cmp.Or(cmp.Compare(b.KeyRequests30d, a.KeyRequests30d), cmp.Compare(a.Tenant, b.Tenant))
	},
	"status": func(a, b tenantRow) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Tenant, b.Tenant))
	},
	"keys": func(a, b tenantRow) int {
		return cmp.Or(cmp.Compare(b.KeysInUse30d, a.KeysInUse30d), cmp.Compare(a.Tenant, b.Tenant))
	},
}

func (c *Console) tenants(w http.ResponseWriter, r *http.Request, v *visit) error {
	ctx := r.Context()
	prog, err := c.api.MigrationProgress(ctx, v.principal)
	if err != nil {
		return err
	}
	rep := prog.Report
	now := c.now()
	traffic, err := c.api.KeyRequestsByTenant(ctx, v.principal, apikey.MidnightUTC(now).AddDate(0, 0, -29))
	if err != nil {
		return err
	}
	d := tenantsData{At: rep.At, Sort: r.URL.Query().Get("sort"), Disabled: map[string]bool{}}
	all, err := c.api.ListTenants(ctx, v.principal)
	if err != nil {
		return err
	}
	for _, t := range all {
		d.Disabled[t.ID] = t.Status == store.StatusDisabled
	}
	if tenantSorts[d.Sort] == nil {
		d.Sort = "traffic"
	}
	for _, t := range rep.Tenants {
		d.Rows = append(d.Rows, tenantRow{TenantReport: t, KeyRequests30d: traffic[t.Tenant]})
	}
	slices.SortFunc(d.Rows, tenantSorts[d.Sort])
	d.Chart = migratedChart(prog, now)
	c.render(w, http.StatusOK, "tenants", &view{Title: "Tenants", Section: "tenants", Who: whoOf(v), Flash: flash(r), Data: d})
	return nil
}

// migratedChart draws how many tenants have migrated over time (since
// when each counts as migrated: admin.MigrationProgress).
func migratedChart(prog admin.MigrationProgress, now time.Time) string {
	var points []chart.Point
	for _, t := range prog.Report.Tenants {
		if at, ok := prog.MigratedAt[t.Tenant]; ok {
			points = append(points, chart.Point{Day: at, Value: 1})
		}
	}
	today := apikey.MidnightUTC(now)
	return chart.Cumulative(chart.DailyOptions{
		ID: "migrated", Title: "Tenants migrated over time", YAxis: "tenants",
		From: today.AddDate(0, 0, -89), To: today,
		Series: []chart.Series{{Name: "Migrated tenants", Points: points}},
	})
}

type timelineData struct {
	Timeline apikey.Timeline
	Chart    string
	Problem  *admin.Problem
	// Form values of the milestone fields (YYYY-MM-DD).
	Deprecated, OAuthOnly, NoNewKeys, KeysOff string
}

func (c *Console) timeline(w http.ResponseWriter, r *http.Request, v *visit) error {
	tl, err := c.api.GetTimeline(r.Context(), v.principal)
	if err != nil {
		return err
	}
	c.renderTimeline(w, r, v, http.StatusOK, tl, nil)
	return nil
}

func (c *Console) renderTimeline(w http.ResponseWriter, r *http.Request, v *visit, status int, tl apikey.Timeline, p *admin.Problem) {
	d := timelineData{
		Timeline: tl, Problem: p,
		Deprecated: dateValue(tl.DeprecatedAt), OAuthOnly: dateValue(tl.TenantOAuthOnlyAfter),
		NoNewKeys: dateValue(tl.NoNewKeysAt), KeysOff: dateValue(tl.KeysOffAt),
	}
	d.Chart = timelineChart(tl, c.now())
	vw := &view{Title: "Sunset timeline", Section: "timeline", Who: whoOf(v), Flash: flash(r), Data: d}
	if p != nil {
		vw.Error = "The timeline was not saved: " + problemText(p)
	}
	c.render(w, status, "timeline", vw)
}

func timelineChart(tl apikey.Timeline, now time.Time) string {
	opts := chart.TimelineOptions{ID: "timeline", Title: "Sunset timeline", Today: now}
	add := func(t *time.Time, label string) {
		if t != nil {
			opts.Milestones = append(opts.Milestones, chart.Milestone{At: *t, Label: label})
		}
	}
	add(tl.DeprecatedAt, "Deprecated")
	add(tl.TenantOAuthOnlyAfter, "OAuth only for new tenants")
	add(tl.NoNewKeysAt, "No new keys")
	add(tl.KeysOffAt, "Keys off")
	for _, b := range tl.Brownouts {
		opts.Brownouts = append(opts.Brownouts, chart.Brownout{Start: b.Start, End: b.End, Label: "Brownout", Tenants: len(b.Tenants)})
	}
	for _, e := range tl.Extensions {
		opts.Extensions = append(opts.Extensions, chart.Extension{Tenant: e.Tenant, Until: e.KeysOffAt})
	}
	return chart.Timeline(opts)
}

func dateValue(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// parseDate reads an optional date field: empty is nil.
func parseDate(field, s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%s must be a date (YYYY-MM-DD)", field)
	}
	return &t, nil
}

// parseInstant reads a datetime-local or date field as UTC.
func parseInstant(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errorf(http.StatusBadRequest, "%s must be a date and time (UTC)", field)
}

// putTimeline saves tl through the admin API; a validation problem is shown
// on the timeline page with the operator's input kept.
func (c *Console) putTimeline(w http.ResponseWriter, r *http.Request, v *visit, tl apikey.Timeline, done string) error {
	_, err := c.api.PutTimeline(r.Context(), v.principal, tl)
	if p, ok := asProblem(err); ok && (p.Status == http.StatusBadRequest || p.Status == http.StatusUnprocessableEntity) {
		c.renderTimeline(w, r, v, p.Status, tl, p)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/timeline?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) saveTimeline(w http.ResponseWriter, r *http.Request, v *visit) error {
	tl, err := c.api.GetTimeline(r.Context(), v.principal)
	if err != nil {
		return err
	}
	f := r.PostForm
	fields := []struct {
		name string
		dst  **time.Time
	}{
		{"deprecated_at", &tl.DeprecatedAt}, {"tenant_oauth_only_after", &tl.TenantOAuthOnlyAfter},
		{"no_new_keys_at", &tl.NoNewKeysAt}, {"keys_off_at", &tl.KeysOffAt},
	}
	for _, fl := range fields {
		t, err := parseDate(fl.name, f.Get(fl.name))
		if err != nil {
			return err
		}
		*fl.dst = t
	}
	tl.MigrationGuideURL = strings.TrimSpace(f.Get("migration_guide_url"))
	if s := strings.TrimSpace(f.Get("disable_unused_after_days")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errorf(http.StatusBadRequest, "disable unused after must be a number of days")
		}
		tl.DisableUnusedAfterDays = n
	}
	return c.putTimeline(w, r, v, tl, "timeline-saved")
}

func (c *Console) addBrownout(w http.ResponseWriter, r *http.Request, v *visit) error {
	tl, err := c.api.GetTimeline(r.Context(), v.principal)
	if err != nil {
		return err
	}
	start, err := parseInstant("start", r.PostFormValue("start"))
	if err != nil {
		return err
	}
	end, err := parseInstant("end", r.PostFormValue("end"))
	if err != nil {
		return err
	}
	b := apikey.Brownout{Start: start, End: end, Tenants: []string{}}
	for t := range strings.FieldsFuncSeq(r.PostFormValue("tenants"), func(r rune) bool { return r == ',' || r == ' ' }) {
		b.Tenants = append(b.Tenants, t)
	}
	tl.Brownouts = append(tl.Brownouts, b)
	return c.putTimeline(w, r, v, tl, "brownout-added")
}

func (c *Console) removeBrownout(w http.ResponseWriter, r *http.Request, v *visit) error {
	tl, err := c.api.GetTimeline(r.Context(), v.principal)
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(r.PostFormValue("index"))
	if err != nil || i < 0 || i >= len(tl.Brownouts) {
		return errorf(http.StatusBadRequest, "no such brownout")
	}
	tl.Brownouts = slices.Delete(tl.Brownouts, i, i+1)
	return c.putTimeline(w, r, v, tl, "brownout-removed")
}

func (c *Console) addExtension(w http.ResponseWriter, r *http.Request, v *visit) error {
	tl, err := c.api.GetTimeline(r.Context(), v.principal)
	if err != nil {
		return err
	}
	until, err := parseDate("keys off for the tenant", r.PostFormValue("keys_off_at"))
	if err != nil {
		return err
	}
	if until == nil {
		return errorf(http.StatusBadRequest, "the extension needs a date")
	}
	tenant := strings.TrimSpace(r.PostFormValue("tenant"))
	tl.Extensions = slices.DeleteFunc(tl.Extensions, func(e apikey.Extension) bool { return e.Tenant == tenant })
	tl.Extensions = append(tl.Extensions, apikey.Extension{Tenant: tenant, KeysOffAt: *until, Reason: strings.TrimSpace(r.PostFormValue("reason"))})
	return c.putTimeline(w, r, v, tl, "extension-added")
}

type impactData struct {
	At      string
	Report  *apikey.Report
	Chart   string
	Tenants int
	Keys    int
	Daily   int64
}

func (c *Console) impact(w http.ResponseWriter, r *http.Request, v *visit) error {
	d := impactData{At: r.URL.Query().Get("at")}
	if d.At == "" {
		tl, err := c.api.GetTimeline(r.Context(), v.principal)
		if err != nil {
			return err
		}
		d.At = dateValue(tl.KeysOffAt)
	}
	if d.At != "" {
		at, err := time.Parse("2006-01-02", d.At)
		if err != nil {
			return errorf(http.StatusBadRequest, "the date must be YYYY-MM-DD")
		}
		rep, err := c.api.Migration(r.Context(), v.principal, at)
		if err != nil {
			return err
		}
		d.Report = &rep
		var bars []chart.Bar
		for _, t := range rep.Tenants {
			var n int64
			for _, k := range t.WouldBeRefused {
				n += k.Requests30d
			}
			if len(t.WouldBeRefused) > 0 {
				d.Tenants++
				d.Keys += len(t.WouldBeRefused)
				d.Daily += n / 30
				bars = append(bars, chart.Bar{Label: t.Tenant, Value: n / 30})
			}
		}
		slices.SortFunc(bars, func(a, b chart.Bar) int { return cmp.Compare(b.Value, a.Value) })
		d.Chart = chart.Bars(chart.BarOptions{ID: "impact", Title: "Daily requests that would fail on " + d.At, ValueAxis: "requests/day (30-day average)", LabelAxis: "Tenant", Bars: bars})
	}
	c.render(w, http.StatusOK, "impact", &view{Title: "Impact report", Section: "impact", Who: whoOf(v), Data: d})
	return nil
}

type signingKeysData struct {
	Keys []admin.SigningKeyView
}

func (c *Console) signingKeys(w http.ResponseWriter, r *http.Request, v *visit) error {
	keys, err := c.api.ListSigningKeys(r.Context(), v.principal)
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "signing_keys", &view{Title: "Signing keys", Section: "signing-keys", Who: whoOf(v), Flash: flash(r), Data: signingKeysData{Keys: keys}})
	return nil
}

func (c *Console) rotateKeys(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := c.api.RotateSigningKeys(r.Context(), v.principal); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/signing-keys?done=keys-rotated", http.StatusSeeOther)
	return nil
}

// problemText is a problem's detail and field errors as one line.
func problemText(p *admin.Problem) string {
	parts := []string{}
	if p.Detail != "" {
		parts = append(parts, p.Detail)
	}
	for _, fe := range p.Errors {
		parts = append(parts, fe.Field+": "+fe.Message)
	}
	if len(parts) == 0 {
		return p.Title
	}
	return strings.Join(parts, "; ")
}
