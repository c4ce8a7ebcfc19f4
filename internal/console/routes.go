package console

import "net/http"

// routes registers every console page. Tenant pages live under
// /console/t/{tenant}/ and go through tenantPage (404 for a tenant the
// person may not see); operator pages check the operator right themselves.
func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /console/assets/", c.serveAsset)
	m.HandleFunc("GET /console/callback", c.callback)
	m.Handle("POST /console/logout", c.page(c.logout))
	m.Handle("GET /console/{$}", c.page(c.home))
	c.tenantRoutes()
	c.userRoutes()
	c.adminRoutes()
	c.operatorRoutes()
}

// home sends operators to the tenants table and tenant admins to their
// tenant's overview.
func (c *Console) home(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.operator() {
		http.Redirect(w, r, "/console/tenants", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/console/t/"+v.user.Tenant+"/", http.StatusSeeOther)
	return nil
}

// operatorOnly wraps an operator page: anyone else gets 404, as for a
// tenant they may not see.
func (c *Console) operatorOnly(h handler) http.Handler {
	return c.page(func(w http.ResponseWriter, r *http.Request, v *visit) error {
		if !v.operator() {
			return errorf(http.StatusNotFound, "page not found")
		}
		return h(w, r, v)
	})
}
