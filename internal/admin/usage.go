package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// KeyActivity is one key's daily requests (accepted and refused), one
// count per UTC day from the window's first day, and the distinct user
// agents last seen with it, most recent first (at most five).
type KeyActivity struct {
	Daily      []int64
	UserAgents []string
}

// KeyActivity returns, per key id of tenant, its requests on each of the
// days UTC days from since (midnight UTC), in one read of the usage. Anyone
// who may see the tenant may call it; any other tenant is not found.
func (a *API) KeyActivity(ctx context.Context, p Principal, tenant string, since time.Time, days int) (map[string]KeyActivity, error) {
	if _, err := a.GetTenant(ctx, p, tenant); err != nil {
		return nil, err
	}
	rows, err := a.st.ListUsage(ctx, store.UsageFilter{Tenant: tenant, Since: since})
	if err != nil {
		return nil, fmt.Errorf("list usage of %s: %w", tenant, err)
	}
	perKey := map[string][]store.UsageDay{}
	for _, d := range rows {
		perKey[d.KeyID] = append(perKey[d.KeyID], d)
	}
	out := make(map[string]KeyActivity, len(perKey))
	for id, rows := range perKey {
		out[id] = dailyActivity(rows, since, days)
	}
	return out, nil
}

// dailyActivity turns one key's usage rows into one count per day from
// since, and the distinct user agents seen, most recent first.
func dailyActivity(rows []store.UsageDay, since time.Time, n int) KeyActivity {
	out := KeyActivity{Daily: make([]int64, n)}
	slices.SortFunc(rows, func(a, b store.UsageDay) int { return b.Day.Compare(a.Day) })
	for _, d := range rows {
		i := int(d.Day.Sub(since) / (24 * time.Hour))
		if i >= 0 && i < n {
			out.Daily[i] += d.Accepted
			for _, k := range d.Refused {
				out.Daily[i] += k
			}
		}
		if d.LastUserAgent != "" && !slices.Contains(out.UserAgents, d.LastUserAgent) && len(out.UserAgents) < 5 {
			out.UserAgents = append(out.UserAgents, d.LastUserAgent)
		}
	}
	return out
}

// KeyRequestsByTenant returns the requests made with each tenant's keys
// (accepted and refused) since since, in one read of the usage. An operator
// sees every tenant, a tenant admin only its own.
func (a *API) KeyRequestsByTenant(ctx context.Context, p Principal, since time.Time) (map[string]int64, error) {
	f := store.UsageFilter{Since: since}
	if !p.IsOperator() {
		if _, err := a.GetTenant(ctx, p, p.Tenant); err != nil {
			return nil, err
		}
		f.Tenant = p.Tenant
	}
	rows, err := a.st.ListUsage(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	out := map[string]int64{}
	for _, u := range rows {
		out[u.Tenant] += u.Accepted
		for _, n := range u.Refused {
			out[u.Tenant] += n
		}
	}
	return out, nil
}
