package console

import (
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
)

func (c *Console) tenantRoutes() {
	m := c.mux
	m.Handle("GET /console/t/{tenant}/{$}", c.tenantPage(c.overview))
}

// overviewData is the tenant overview.
type overviewData struct {
	Report   apikey.TenantReport
	DaysLeft *int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	// For an operator the report covers every tenant; the page shows one.
	rep, err := c.api.Migration(r.Context(), v.principal, time.Time{})
	if err != nil {
		return err
	}
	d := overviewData{}
	for _, t := range rep.Tenants {
		if t.Tenant == tenant {
			d.Report = t
		}
	}
	if d.Report.KeysOffAt != nil {
		n := int(d.Report.KeysOffAt.Sub(c.now()).Hours() / 24)
		if n < 0 {
			n = 0
		}
		d.DaysLeft = &n
	}
	c.render(w, http.StatusOK, "overview", &view{Title: "Migration overview", Section: "overview", Tenant: tenant, Who: whoOf(v), Flash: flash(r), Data: d})
	return nil
}
