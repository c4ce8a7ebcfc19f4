package console

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func (c *Console) tenantRoutes() {
	m := c.mux
	m.Handle("GET /console/t/{tenant}/{$}", c.tenantPage(c.overview))
	m.Handle("GET /console/t/{tenant}/keys", c.tenantPage(c.keys))
	m.Handle("POST /console/t/{tenant}/keys/{id}/status", c.tenantPage(c.keyStatus))
	m.Handle("POST /console/t/{tenant}/keys/{id}/convert", c.tenantPage(c.convertKey))
	m.Handle("GET /console/t/{tenant}/clients", c.tenantPage(c.clients))
	m.Handle("GET /console/t/{tenant}/clients/new", c.tenantPage(c.newClient))
	m.Handle("POST /console/t/{tenant}/clients", c.tenantPage(c.createClient))
	m.Handle("GET /console/t/{tenant}/clients/{id}", c.tenantPage(c.client))
	m.Handle("POST /console/t/{tenant}/clients/{id}/status", c.tenantPage(c.clientStatus))
	m.Handle("POST /console/t/{tenant}/clients/{id}/scopes", c.tenantPage(c.clientScopes))
	m.Handle("POST /console/t/{tenant}/clients/{id}/secret", c.tenantPage(c.rotateSecret))
	m.Handle("GET /console/t/{tenant}/test", c.tenantPage(c.testForm))
	m.Handle("POST /console/t/{tenant}/test", c.tenantPage(c.testRun))
	m.Handle("GET /console/t/{tenant}/audit", c.tenantPage(c.audit))
}

// overviewData is the tenant overview.
type overviewData struct {
	Report   apikey.TenantReport
	DaysLeft *int
	Chart    string // SVG: daily requests by key vs token, 90 days
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	rep, err := c.api.TenantMigration(r.Context(), v.principal, tenant, time.Time{})
	if err != nil {
		return err
	}
	d := overviewData{Report: rep}
	if d.Report.KeysOffAt != nil {
		n := max(int(d.Report.KeysOffAt.Sub(c.now()).Hours()/24), 0)
		d.DaysLeft = &n
	}
	if d.Chart, err = c.trafficChart(r, v, tenant); err != nil {
		return err
	}
	c.render(w, http.StatusOK, "overview", &view{Title: "Migration overview", Section: "overview", Tenant: tenant, Who: whoOf(v), Flash: flash(r), Data: d})
	return nil
}

// keyRow is one key of the keys page.
type keyRow struct {
	admin.KeyView
	Sparkline  string
	UserAgents []string
}

type keysData struct {
	Keys      []keyRow
	NextAfter string
	// Converted is the answer of a conversion, shown once on this page.
	Converted *admin.ConvertKeyResponse
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	var conv admin.ConvertKeyResponse
	if c.takeReveal(w, r, v, revealKeyConverted, &conv) {
		return c.renderKeys(w, r, v, tenant, &conv)
	}
	return c.renderKeys(w, r, v, tenant, nil)
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, v *visit, tenant string, conv *admin.ConvertKeyResponse) error {
	list, err := c.api.ListKeys(r.Context(), v.principal, tenant, admin.KeyQuery{After: r.URL.Query().Get("after"), Limit: 200})
	if err != nil {
		return err
	}
	since := apikey.MidnightUTC(c.now()).AddDate(0, 0, -29)
	activity, err := c.api.KeyActivity(r.Context(), v.principal, tenant, since, 30)
	if err != nil {
		return err
	}
	d := keysData{NextAfter: list.NextAfter, Converted: conv}
	for _, k := range list.Keys {
		a := activity[k.ID]
		if a.Daily == nil {
			a.Daily = make([]int64, 30)
		}
		d.Keys = append(d.Keys, keyRow{KeyView: k, Sparkline: sparkline(a.Daily, "Requests per day with key "+k.Name+", last 30 days"), UserAgents: a.UserAgents})
	}
	status := http.StatusOK
	c.render(w, status, "keys", &view{Title: "API keys", Section: "keys", Tenant: tenant, Who: whoOf(v), Flash: revealFlash(r, revealKeyConverted, conv != nil), Data: d})
	return nil
}

func (c *Console) keyStatus(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	status := r.PostFormValue("status")
	if status != store.StatusActive && status != store.StatusDisabled {
		return errorf(http.StatusBadRequest, "unknown key status %q", status)
	}
	if _, err := c.api.UpdateKey(r.Context(), v.principal, tenant, r.PathValue("id"), admin.UpdateKeyRequest{Status: &status}); err != nil {
		return err
	}
	done := "key-enabled"
	if status == store.StatusDisabled {
		done = "key-disabled"
	}
	http.Redirect(w, r, "/console/t/"+url.PathEscape(tenant)+"/keys?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) convertKey(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	conv, err := c.api.ConvertKey(r.Context(), v.principal, tenant, r.PathValue("id"), admin.ConvertKeyRequest{DisableKeyAt: r.PostFormValue("disable_key_at")})
	if err != nil {
		return err
	}
	if ok, err := c.revealAfterRedirect(w, r, v, "/console/t/"+tenant+"/keys", revealKeyConverted, conv); ok || err != nil {
		return err
	}
	return c.renderKeys(w, r, v, tenant, &conv)
}

type clientsData struct {
	Clients []admin.ClientView
}

func (c *Console) clients(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	list, err := c.api.ListClients(r.Context(), v.principal, tenant)
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(cv admin.ClientView) bool { return cv.ClientID == admin.ConsoleClientID })
	c.render(w, http.StatusOK, "clients", &view{Title: "OAuth clients", Section: "clients", Tenant: tenant, Who: whoOf(v), Flash: flash(r), Data: clientsData{Clients: list}})
	return nil
}

// scopeGroup is the scopes of one service and object, for the picker.
type scopeGroup struct {
	Name   string
	Scopes []store.Scope
}

// scopeGroups groups the catalogue by service and object ("core.invoice"),
// with the built-in scopes last.
func (c *Console) scopeGroups(r *http.Request, v *visit) ([]scopeGroup, error) {
	all, err := c.api.ListScopes(r.Context(), v.principal)
	if err != nil {
		return nil, err
	}
	byName := map[string]*scopeGroup{}
	var builtin scopeGroup
	builtin.Name = "Sign-in and keyshift"
	var groups []*scopeGroup
	for _, s := range all {
		if s.Builtin {
			if s.Name == oauth.ScopeAdmin && !v.operator() {
				continue
			}
			builtin.Scopes = append(builtin.Scopes, s)
			continue
		}
		parts := strings.SplitN(s.Name, ".", 3)
		key := s.Name
		if len(parts) == 3 {
			key = parts[0] + "." + parts[1]
		}
		g := byName[key]
		if g == nil {
			g = &scopeGroup{Name: key}
			byName[key] = g
			groups = append(groups, g)
		}
		g.Scopes = append(g.Scopes, s)
	}
	slices.SortFunc(groups, func(a, b *scopeGroup) int { return cmp.Compare(a.Name, b.Name) })
	out := make([]scopeGroup, 0, len(groups)+1)
	for _, g := range groups {
		out = append(out, *g)
	}
	if len(builtin.Scopes) > 0 {
		out = append(out, builtin)
	}
	return out, nil
}

type clientFormData struct {
	Groups   []scopeGroup
	Selected []string
	Form     url.Values
	Created  *admin.CreateClientResponse
	Problem  *admin.Problem
}

func (c *Console) newClient(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	groups, err := c.scopeGroups(r, v)
	if err != nil {
		return err
	}
	d := clientFormData{Groups: groups, Form: url.Values{}}
	var created admin.CreateClientResponse
	title := "New OAuth client"
	shown := c.takeReveal(w, r, v, revealClientCreated, &created)
	if shown {
		d.Created, title = &created, "Client created"
	}
	c.render(w, http.StatusOK, "client_new", &view{Title: title, Section: "clients", Tenant: tenant, Who: whoOf(v), Flash: revealFlash(r, revealClientCreated, shown), Data: d})
	return nil
}

func (c *Console) createClient(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	f := r.PostForm
	req := admin.CreateClientRequest{
		Name:   strings.TrimSpace(f.Get("name")),
		Scopes: f["scope"],
		Contact: store.Contact{Login: strings.TrimSpace(f.Get("contact_login")), FirstName: strings.TrimSpace(f.Get("contact_first_name")),
			LastName: strings.TrimSpace(f.Get("contact_last_name")), Email: strings.TrimSpace(f.Get("contact_email"))},
	}
	groups, err := c.scopeGroups(r, v)
	if err != nil {
		return err
	}
	created, err := c.api.CreateClient(r.Context(), v.principal, tenant, req)
	d := clientFormData{Groups: groups, Selected: req.Scopes, Form: f}
	if p, ok := asProblem(err); ok && p.Status < 500 && p.Status != http.StatusNotFound {
		d.Problem = p
		c.render(w, p.Status, "client_new", &view{Title: "New OAuth client", Section: "clients", Tenant: tenant, Who: whoOf(v), Error: "The client was not created: fix the fields below.", Data: d})
		return nil
	}
	if err != nil {
		return err
	}
	if ok, err := c.revealAfterRedirect(w, r, v, "/console/t/"+tenant+"/clients/new", revealClientCreated, created); ok || err != nil {
		return err
	}
	d.Created = &created
	c.render(w, http.StatusCreated, "client_new", &view{Title: "Client created", Section: "clients", Tenant: tenant, Who: whoOf(v), Data: d})
	return nil
}

type clientData struct {
	Client    admin.ClientView
	Groups    []scopeGroup
	NewSecret *admin.RotateSecretResponse
	Tomorrow  string
}

func (c *Console) client(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	var rotated admin.RotateSecretResponse
	if c.takeReveal(w, r, v, revealSecretRotated, &rotated) {
		return c.renderClient(w, r, v, tenant, &rotated)
	}
	return c.renderClient(w, r, v, tenant, nil)
}

func (c *Console) renderClient(w http.ResponseWriter, r *http.Request, v *visit, tenant string, rotated *admin.RotateSecretResponse) error {
	cv, err := c.api.GetClient(r.Context(), v.principal, tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	groups, err := c.scopeGroups(r, v)
	if err != nil {
		return err
	}
	d := clientData{Client: cv, Groups: groups, NewSecret: rotated, Tomorrow: c.now().Add(24 * time.Hour).Format("2006-01-02")}
	c.render(w, http.StatusOK, "client", &view{Title: cv.Name, Section: "clients", Tenant: tenant, Who: whoOf(v), Flash: revealFlash(r, revealSecretRotated, rotated != nil), Data: d})
	return nil
}

func (c *Console) clientStatus(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	status := r.PostFormValue("status")
	if status != store.StatusActive && status != store.StatusDisabled {
		return errorf(http.StatusBadRequest, "unknown client status %q", status)
	}
	id := r.PathValue("id")
	if _, err := c.api.UpdateClient(r.Context(), v.principal, tenant, id, admin.UpdateClientRequest{Status: &status}); err != nil {
		return err
	}
	done := "client-enabled"
	if status == store.StatusDisabled {
		done = "client-disabled"
	}
	http.Redirect(w, r, "/console/t/"+url.PathEscape(tenant)+"/clients/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) clientScopes(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	scopes := r.PostForm["scope"]
	if scopes == nil {
		scopes = []string{}
	}
	id := r.PathValue("id")
	if _, err := c.api.UpdateClient(r.Context(), v.principal, tenant, id, admin.UpdateClientRequest{Scopes: &scopes}); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/t/"+url.PathEscape(tenant)+"/clients/"+url.PathEscape(id)+"?done=scopes-updated", http.StatusSeeOther)
	return nil
}

func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	req := admin.RotateSecretRequest{RevokePrevious: r.PostFormValue("revoke_previous") == "yes"}
	if s := r.PostFormValue("previous_expires_at"); s != "" && !req.RevokePrevious {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return errorf(http.StatusBadRequest, "the overlap date must be a date (YYYY-MM-DD)")
		}
		req.PreviousExpiresAt = &t
	}
	id := r.PathValue("id")
	rotated, err := c.api.RotateClientSecret(r.Context(), v.principal, tenant, id, req)
	if err != nil {
		return err
	}
	if ok, err := c.revealAfterRedirect(w, r, v, "/console/t/"+tenant+"/clients/"+id, revealSecretRotated, rotated); ok || err != nil {
		return err
	}
	return c.renderClient(w, r, v, tenant, &rotated)
}

type testData struct {
	ClientID string
	Scope    string
	Results  []CheckResult
	Ran      bool
}

func (c *Console) testForm(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	d := testData{ClientID: r.URL.Query().Get("client_id")}
	c.render(w, http.StatusOK, "test", &view{Title: "Test credentials", Section: "test", Tenant: tenant, Who: whoOf(v), Data: d})
	return nil
}

func (c *Console) testRun(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	if c.cfg.Credentials == nil {
		return errorf(http.StatusNotFound, "credential tests are not available on this server")
	}
	d := testData{ClientID: strings.TrimSpace(r.PostFormValue("client_id")), Scope: strings.TrimSpace(r.PostFormValue("scope")), Ran: true}
	// Only the tenant's own clients: an admin cannot probe other tenants'.
	if _, err := c.api.GetClient(r.Context(), v.principal, tenant, d.ClientID); err != nil {
		return err
	}
	d.Results = c.cfg.Credentials.TestCredentials(r.Context(), d.ClientID, r.PostFormValue("client_secret"), d.Scope)
	c.render(w, http.StatusOK, "test", &view{Title: "Test credentials", Section: "test", Tenant: tenant, Who: whoOf(v), Data: d})
	return nil
}

type auditData struct {
	Events     []admin.AuditEventView
	Action     string
	ObjectID   string
	NextBefore string
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	q := r.URL.Query()
	aq := admin.AuditQuery{Tenant: tenant, Action: strings.TrimSpace(q.Get("action")), ObjectID: strings.TrimSpace(q.Get("object_id")), Limit: 100}
	if b := q.Get("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			return errorf(http.StatusBadRequest, "before must be an RFC 3339 time")
		}
		aq.Before = t
	}
	list, err := c.api.ListAudit(r.Context(), v.principal, aq)
	if err != nil {
		return err
	}
	d := auditData{Events: list.Events, Action: aq.Action, ObjectID: aq.ObjectID}
	if list.NextBefore != nil {
		d.NextBefore = list.NextBefore.Format(time.RFC3339Nano)
	}
	c.render(w, http.StatusOK, "audit", &view{Title: "Audit log", Section: "audit", Tenant: tenant, Who: whoOf(v), Data: d})
	return nil
}

func asProblem(err error) (*admin.Problem, bool) {
	var p *admin.Problem
	ok := errors.As(err, &p)
	return p, ok
}
