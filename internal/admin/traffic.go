package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Bounds of the traffic window, in days.
const (
	DefaultTrafficDays = 90
	MaxTrafficDays     = 366
)

// TrafficDay is one UTC day of a tenant's API traffic: requests made with
// legacy keys (accepted and refused) and with OAuth access tokens.
type TrafficDay struct {
	Day           time.Time `json:"day"` // midnight UTC
	KeyRequests   int64     `json:"key_requests"`
	TokenRequests int64     `json:"token_requests"`
}

// TrafficReport is the answer of GET /admin/v1/traffic and
// GET /admin/v1/tenants/{tenant}/traffic.
type TrafficReport struct {
	// Tenant is the tenant counted; empty for all tenants.
	Tenant string       `json:"tenant,omitempty"`
	Days   []TrafficDay `json:"days"`
}

// Traffic returns the key and token requests of tenant on each of the last
// days UTC days, today included, oldest first, with zeros for days without
// traffic. An operator passes "" for every tenant; a tenant admin's "" is
// its own tenant, and any other tenant is not found. days is 1 to
// MaxTrafficDays.
func (a *API) Traffic(ctx context.Context, p Principal, tenant string, days int) ([]TrafficDay, error) {
	if days < 1 || days > MaxTrafficDays {
		var v validation
		v.add("days", fmt.Sprintf("must be between 1 and %d", MaxTrafficDays))
		return nil, v.err()
	}
	if tenant == "" && !p.IsOperator() {
		tenant = p.Tenant
	}
	if tenant != "" {
		if _, err := a.GetTenant(ctx, p, tenant); err != nil {
			return nil, err
		}
	}
	// The clock is in UTC: truncating gives today's midnight UTC.
	first := a.clock().Truncate(24*time.Hour).AddDate(0, 0, 1-days)
	out := make([]TrafficDay, days)
	for i := range out {
		out[i].Day = first.AddDate(0, 0, i)
	}
	// index places a stored day in out; rows outside the window (a clock
	// set back, a day not at midnight) are not counted.
	index := func(day time.Time) (int, bool) {
		i := int(day.Sub(first) / (24 * time.Hour))
		return i, day.Sub(first) >= 0 && i < days && out[i].Day.Equal(day)
	}
	keyDays, err := a.st.ListUsage(ctx, store.UsageFilter{Tenant: tenant, Since: first})
	if err != nil {
		return nil, fmt.Errorf("list key usage of %q: %w", tenant, err)
	}
	for _, u := range keyDays {
		if i, ok := index(u.Day); ok {
			out[i].KeyRequests += u.Accepted
			for _, n := range u.Refused {
				out[i].KeyRequests += n
			}
		}
	}
	tokenDays, err := a.st.ListTokenUsage(ctx, store.TokenUsageFilter{Tenant: tenant, Since: first})
	if err != nil {
		return nil, fmt.Errorf("list token usage of %q: %w", tenant, err)
	}
	for _, u := range tokenDays {
		if i, ok := index(u.Day); ok {
			out[i].TokenRequests += u.Requests
		}
	}
	return out, nil
}

// parseTrafficDays reads the days parameter: DefaultTrafficDays when absent;
// present, it must be a number in range (an empty value is not).
func parseTrafficDays(q url.Values) (int, error) {
	if !q.Has("days") {
		return DefaultTrafficDays, nil
	}
	n, err := strconv.Atoi(q.Get("days"))
	if err != nil || n < 1 || n > MaxTrafficDays {
		var v validation
		v.add("days", fmt.Sprintf("must be a whole number between 1 and %d", MaxTrafficDays))
		return 0, v.err()
	}
	return n, nil
}

// handleTenantTraffic serves GET /admin/v1/tenants/{tenant}/traffic.
func (a *API) handleTenantTraffic(w http.ResponseWriter, r *http.Request, p Principal) error {
	return a.serveTraffic(w, r, p, r.PathValue("tenant"))
}

// handleTraffic serves GET /admin/v1/traffic: every tenant's traffic for an
// operator, a tenant admin's own.
func (a *API) handleTraffic(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := ""
	if !p.IsOperator() {
		tenant = p.Tenant
	}
	return a.serveTraffic(w, r, p, tenant)
}

func (a *API) serveTraffic(w http.ResponseWriter, r *http.Request, p Principal, tenant string) error {
	days, err := parseTrafficDays(r.URL.Query())
	if err != nil {
		return err
	}
	out, err := a.Traffic(r.Context(), p, tenant, days)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TrafficReport{Tenant: tenant, Days: out})
	return nil
}
