package admin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// Migration returns the migration report at instant at (zero = now): per
// tenant its status, keys and, in would_be_refused, the keys the timeline
// refuses at that instant with their traffic of the last 30 days. Operators
// see every tenant, a tenant admin only its own.
func (a *API) Migration(ctx context.Context, p Principal, at time.Time) (apikey.Report, error) {
	if !p.IsOperator() {
		return a.migration(ctx, p, p.Tenant, at)
	}
	tenants, err := a.st.ListTenants(ctx)
	if err != nil {
		return apikey.Report{}, fmt.Errorf("list tenants: %w", err)
	}
	return a.report(ctx, "", tenants, at, nil)
}

// TenantMigration is one tenant's line of the migration report, for anyone
// who may see the tenant; it reads that tenant's keys only.
func (a *API) TenantMigration(ctx context.Context, p Principal, tenant string, at time.Time) (apikey.TenantReport, error) {
	rep, err := a.migration(ctx, p, tenant, at)
	if err != nil {
		return apikey.TenantReport{}, err
	}
	for _, t := range rep.Tenants {
		if t.Tenant == tenant {
			return t, nil
		}
	}
	return apikey.TenantReport{Tenant: tenant}, nil // the platform tenant has no line
}

// migration is the report of one tenant p may see.
func (a *API) migration(ctx context.Context, p Principal, tenant string, at time.Time) (apikey.Report, error) {
	t, err := a.GetTenant(ctx, p, tenant)
	if err != nil {
		return apikey.Report{}, err
	}
	return a.report(ctx, t.ID, []store.Tenant{t}, at, nil)
}

// report builds the report of tenants; scope is their one id, or "" for
// every tenant. each, if not nil, sees every key of the pass, so that what
// else a caller derives from the keys costs no second read.
func (a *API) report(ctx context.Context, scope string, tenants []store.Tenant, at time.Time, each func(store.APIKey)) (apikey.Report, error) {
	now := a.clock()
	if at.IsZero() {
		at = now
	}
	tl, err := loadTimeline(ctx, a.st)
	if err != nil {
		return apikey.Report{}, err
	}
	clients, err := a.st.ListClients(ctx, scope)
	if err != nil {
		return apikey.Report{}, fmt.Errorf("list clients: %w", err)
	}
	perTenant := map[string]int{}
	for _, c := range clients {
		perTenant[c.Tenant]++
	}
	b := apikey.NewReportBuilder(tl, now, at)
	for _, t := range tenants {
		if t.ID != store.PlatformTenant {
			b.AddTenant(apikey.TenantInfo{ID: t.ID, CreatedAt: t.CreatedAt}, perTenant[t.ID])
		}
	}
	usage, err := keyUsage(ctx, a.st, scope, "", now)
	if err != nil {
		return apikey.Report{}, err
	}
	err = eachKey(ctx, a.st, store.APIKeyFilter{Tenant: scope}, func(k store.APIKey) error {
		b.AddKey(domainKey(k), usage[k.ID])
		if each != nil {
			each(k)
		}
		return nil
	})
	if err != nil {
		return apikey.Report{}, err
	}
	return b.Report(), nil
}

// MigrationCSVHeader is the header row of the migration report as CSV.
var MigrationCSVHeader = []string{"tenant", "status", "active_keys", "keys_in_use_30d", "platform_keys",
	"converted_keys", "clients", "keys_off_at", "would_be_refused", "refused_requests_30d"}

// WriteMigrationCSV writes the report as CSV, one row per tenant; the
// refused keys are summed up (their list is in the JSON form).
func WriteMigrationCSV(w io.Writer, r apikey.Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(MigrationCSVHeader); err != nil {
		return err
	}
	itoa := strconv.Itoa
	for _, t := range r.Tenants {
		var reqs int64
		for _, k := range t.WouldBeRefused {
			reqs += k.Requests30d
		}
		off := ""
		if t.KeysOffAt != nil {
			off = t.KeysOffAt.UTC().Format(time.RFC3339)
		}
		rec := []string{t.Tenant, t.Status, itoa(t.ActiveKeys), itoa(t.KeysInUse30d), itoa(t.PlatformKeys),
			itoa(t.ConvertedKeys), itoa(t.Clients), off, itoa(len(t.WouldBeRefused)), strconv.FormatInt(reqs, 10)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// parseAt reads the at parameter: an RFC 3339 time or a date (midnight UTC).
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			var v validation
			v.add("at", "must be an RFC 3339 time or a date (YYYY-MM-DD)")
			return time.Time{}, v.err()
		}
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

func (a *API) handleMigration(w http.ResponseWriter, r *http.Request, p Principal) error {
	q := r.URL.Query()
	at, err := parseAt(q.Get("at"))
	if err != nil {
		return err
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		var v validation
		v.add("format", `must be "json" or "csv"`)
		return v.err()
	}
	rep, err := a.Migration(r.Context(), p, at)
	if err != nil {
		return err
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, rep)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="migration.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if err := WriteMigrationCSV(w, rep); err != nil {
		a.log.InfoContext(r.Context(), "admin: write migration csv", "err", err)
	}
	return nil
}
