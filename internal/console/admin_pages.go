package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/notify"
	"github.com/keyshift/keyshift/internal/store"
)

// The remaining admin tasks: operators create tenants and edit the scope
// catalogue; tenant admins point keyshift's notifications at a webhook.
func (c *Console) adminRoutes() {
	m := c.mux
	m.Handle("POST /console/tenants", c.operatorOnly(c.createTenant))
	m.Handle("POST /console/tenants/{tenant}/status", c.operatorOnly(c.tenantStatus))
	m.Handle("GET /console/scopes", c.operatorOnly(c.scopes))
	m.Handle("POST /console/scopes", c.operatorOnly(c.putScope))
	m.Handle("GET /console/t/{tenant}/webhook", c.tenantPage(c.webhook))
	m.Handle("POST /console/t/{tenant}/webhook", c.tenantPage(c.putWebhook))
	m.Handle("POST /console/t/{tenant}/webhook/delete", c.tenantPage(c.deleteWebhook))
}

func (c *Console) createTenant(w http.ResponseWriter, r *http.Request, v *visit) error {
	id := strings.TrimSpace(r.PostFormValue("id"))
	_, err := c.api.CreateTenant(r.Context(), v.principal, admin.CreateTenantRequest{ID: id, Name: strings.TrimSpace(r.PostFormValue("name"))})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/tenants?done=tenant-created", http.StatusSeeOther)
	return nil
}

func (c *Console) tenantStatus(w http.ResponseWriter, r *http.Request, v *visit) error {
	status := r.PostFormValue("status")
	if status != store.StatusActive && status != store.StatusDisabled {
		return errorf(http.StatusBadRequest, "unknown tenant status %q", status)
	}
	tenant := r.PathValue("tenant")
	if status == store.StatusDisabled && r.PostFormValue("confirm") != "yes" {
		// Disabling cuts every client, key and person of the tenant off at
		// once: ask first.
		if _, err := c.api.GetTenant(r.Context(), v.principal, tenant); err != nil {
			return err
		}
		c.render(w, http.StatusOK, "confirm", &view{Title: "Disable tenant " + tenant + "?", Section: "tenants", Who: whoOf(v), Data: confirmData{
			Message: "Every OAuth client, API key and person of " + tenant + " is refused from the moment you confirm, until the tenant is enabled again.",
			Action:  "/console/tenants/" + url.PathEscape(tenant) + "/status", Hidden: map[string]string{"status": status, "confirm": "yes"},
			Button: "Disable " + tenant, Cancel: "/console/tenants",
		}})
		return nil
	}
	if _, err := c.api.UpdateTenant(r.Context(), v.principal, tenant, admin.UpdateTenantRequest{Status: &status}); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/tenants?done=tenant-"+status, http.StatusSeeOther)
	return nil
}

type scopesData struct {
	Scopes []store.Scope
	Form   url.Values
}

func (c *Console) scopes(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.renderScopes(w, r, v, http.StatusOK, url.Values{}, "")
}

func (c *Console) renderScopes(w http.ResponseWriter, r *http.Request, v *visit, status int, f url.Values, problem string) error {
	list, err := c.api.ListScopes(r.Context(), v.principal)
	if err != nil {
		return err
	}
	vw := &view{Title: "Scope catalogue", Section: "scopes", Who: whoOf(v), Flash: flash(r), Error: problem, Data: scopesData{Scopes: list, Form: f}}
	c.render(w, status, "scopes", vw)
	return nil
}

// putScope creates or edits a scope: its description and the legacy
// permissions it covers (which key conversion maps onto it).
func (c *Console) putScope(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := r.PostForm
	req := admin.PutScopeRequest{Description: strings.TrimSpace(f.Get("description")), Permissions: []string{}}
	for p := range strings.FieldsFuncSeq(f.Get("permissions"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
		req.Permissions = append(req.Permissions, p)
	}
	_, err := c.api.PutScope(r.Context(), v.principal, strings.TrimSpace(f.Get("name")), req)
	if p, ok := asProblem(err); ok && p.Status < 500 && p.Status != http.StatusNotFound {
		return c.renderScopes(w, r, v, p.Status, f, "The scope was not saved: "+problemText(p))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/scopes?done=scope-saved", http.StatusSeeOther)
	return nil
}

type webhookData struct {
	Webhook *notify.Webhook
	// Secret is a new signing secret, shown once.
	Secret string
	Form   url.Values
}

func (c *Console) webhook(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	d := webhookData{Form: url.Values{}}
	var saved admin.PutWebhookResponse
	if c.takeReveal(w, r, v, revealWebhookSaved, &saved) {
		d.Secret = saved.Secret
	}
	return c.renderWebhook(w, r, v, tenant, http.StatusOK, d, "")
}

func (c *Console) renderWebhook(w http.ResponseWriter, r *http.Request, v *visit, tenant string, status int, d webhookData, problem string) error {
	wh, err := c.api.GetWebhook(r.Context(), v.principal, tenant)
	var p *admin.Problem
	switch {
	case err == nil:
		d.Webhook = &wh
	case errors.As(err, &p) && p.Status == http.StatusNotFound:
		// No webhook yet (or webhooks are off on this server).
	default:
		return err
	}
	c.render(w, status, "webhook", &view{Title: "Notifications", Section: "webhook", Tenant: tenant, Who: whoOf(v), Flash: revealFlash(r, revealWebhookSaved, d.Secret != ""), Error: problem, Data: d})
	return nil
}

func (c *Console) putWebhook(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	res, err := c.api.PutWebhook(r.Context(), v.principal, tenant, admin.PutWebhookRequest{URL: strings.TrimSpace(r.PostFormValue("url"))})
	if p, ok := asProblem(err); ok && p.Status < 500 && p.Status != http.StatusNotFound {
		return c.renderWebhook(w, r, v, tenant, p.Status, webhookData{Form: r.PostForm}, "The webhook was not saved: "+problemText(p))
	}
	if err != nil {
		return err
	}
	if ok, err := c.revealAfterRedirect(w, r, v, "/console/t/"+tenant+"/webhook", revealWebhookSaved, res); ok || err != nil {
		return err
	}
	return c.renderWebhook(w, r, v, tenant, http.StatusOK, webhookData{Secret: res.Secret, Form: url.Values{}}, "")
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request, v *visit, tenant string) error {
	if err := c.api.DeleteWebhook(r.Context(), v.principal, tenant); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/t/"+url.PathEscape(tenant)+"/webhook?done=webhook-deleted", http.StatusSeeOther)
	return nil
}

// confirmData is a confirmation page for a drastic action.
type confirmData struct {
	Message, Action, Button, Cancel string
	Hidden                          map[string]string
}
