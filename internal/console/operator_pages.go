package console

import (
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
)

func (c *Console) operatorRoutes() {
	m := c.mux
	m.Handle("GET /console/tenants", c.operatorOnly(c.tenants))
}

// tenantsData is the operator's table of every tenant's migration.
type tenantsData struct {
	Report apikey.Report
}

func (c *Console) tenants(w http.ResponseWriter, r *http.Request, v *visit) error {
	rep, err := c.api.Migration(r.Context(), v.principal, time.Time{})
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "tenants", &view{Title: "Tenants", Section: "tenants", Who: whoOf(v), Flash: flash(r), Data: tenantsData{Report: rep}})
	return nil
}
