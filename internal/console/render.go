package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
)

// view is what every page template gets: the layout's fields and the
// page's own Data.
type view struct {
	Title   string
	Section string // nav entry to mark current
	Tenant  string // tenant whose pages the nav links to
	Who     *who
	Flash   string
	Error   string
	Data    any
}

// who is the signed-in person as the layout shows them.
type who struct {
	Name     string
	Tenant   string
	Operator bool
	CSRF     string
}

func whoOf(v *visit) *who {
	if v == nil {
		return nil
	}
	name := v.user.Name
	if name == "" {
		name = v.user.Login
	}
	return &who{Name: name, Tenant: v.user.Tenant, Operator: v.operator(), CSRF: v.csrf}
}

// funcs are the template helpers shared by every page.
var funcs = template.FuncMap{
	"date": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		case *time.Time:
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		}
		return "—"
	},
	"datetime": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
		return "—"
	},
	"join": strings.Join,
	"contains": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	// pick gives the scope picker its groups and the checked scopes.
	"pick": func(groups []scopeGroup, selected []string) clientFormData {
		return clientFormData{Groups: groups, Selected: selected}
	},
	// svg marks a chart drawn by this package's own chart code as safe HTML.
	"svg": func(s string) template.HTML { return template.HTML(s) }, //nolint:gosec // our own SVG, built with escaping
}

// loadTemplates parses each page with the layout.
func loadTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// Files named _*.html are partials every page may use.
	shared := []string{"templates/layout.html"}
	for _, n := range names {
		if strings.HasPrefix(n, "templates/_") {
			shared = append(shared, n)
		}
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, append(slices.Clone(shared), n)...)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page name with the layout.
func (c *Console) render(w http.ResponseWriter, status int, name string, vw *view) {
	t := c.pages[name]
	if t == nil {
		c.log.Error("console template missing", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", vw); err != nil {
		c.log.Error("console render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) renderError(w http.ResponseWriter, _ *http.Request, v *visit, status int, msg string) {
	title := http.StatusText(status)
	if status == http.StatusNotFound {
		title = "Not found"
	}
	vw := &view{Title: title, Who: whoOf(v), Data: msg}
	if v != nil && !v.operator() {
		vw.Tenant = v.user.Tenant // keep the tenant's navigation
	}
	c.render(w, status, "error", vw)
}

// flash reads the one-time message a POST left for the page it redirected
// to (?done=…), from a fixed list so a link cannot make the console say
// anything.
func flash(r *http.Request) string {
	return flashes[r.URL.Query().Get("done")]
}

var flashes = map[string]string{
	"client-created":   "Client created.",
	"client-updated":   "Client updated.",
	"secret-rotated":   "New secret created.",
	"key-disabled":     "Key disabled.",
	"key-enabled":      "Key enabled.",
	"key-converted":    "Key converted to a client.",
	"timeline-saved":   "Timeline saved.",
	"brownout-added":   "Brownout added.",
	"extension-added":  "Extension added.",
	"keys-rotated":     "Signing keys rotated.",
	"client-disabled":  "Client disabled.",
	"client-enabled":   "Client enabled.",
	"scopes-updated":   "Scopes updated.",
	"brownout-removed": "Brownout removed.",
	"user-disabled":    "User disabled; their sign-ins have ended.",
	"user-enabled":     "User enabled.",
	"tenant-created":   "Tenant created.",
	"tenant-active":    "Tenant enabled.",
	"tenant-disabled":  "Tenant disabled: its clients, keys and people are refused.",
	"scope-saved":      "Scope saved.",
	"webhook-deleted":  "Notifications stopped.",
	"webhook-saved":    "Notifications saved.",
	"user-created":     "User added.",
	"password-reset":   "Password reset; their sign-ins have ended.",
}
