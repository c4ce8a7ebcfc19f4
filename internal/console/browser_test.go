package console_test

// Real-browser tests of the console: a real keyshift (SQLite, demo data)
// and Debian's headless Chromium, driven with chromedp. They sign in
// through keyshift's own login page, as a person does.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/demo"
)

// acme is the demo's tenant, where alice (admin) and bob (no admin role) work.
const acme = demo.Tenant

// TestBrowser runs the browser tests in one headless Chromium; each
// subtest has its own keyshift server and its own browser contexts
// (cookies), so they run side by side.
func TestBrowser(t *testing.T) {
	browser := startBrowser(t)
	tests := []struct {
		name string
		run  func(t *testing.T, k *keyshift)
	}{
		// The longest first, so the others run beside them.
		{"TenantPages_AccessibleAndScreenshotted", testTenantPages},
		{"OperatorPages_AccessibleAndScreenshotted", testOperatorPages},
		{"CreateClientWithThreeScopes_ShownSecretGetsToken", testCreateClientWithThreeScopes},
		{"ConvertLegacyKey_SecretWorks_DisableMakesTenantMigrated", testConvertLegacyKeyThenDisable},
		{"OperatorAddsBrownout_ListedAndInTimeline", testOperatorAddsBrownout},
		{"TenantAdminEditsURL_OtherTenantsAndOperatorPagesNotFound", testTenantAdminEditsURL},
		{"FormWithoutValidCSRFToken_Refused_NoClientCreated", testFormWithoutCSRFToken},
		{"UserWithoutAdminRole_SeesNoAdministrationRights", testUserWithoutAdminRole},
		{"TenantAdminAddsPerson_ShownPasswordSignsIn", testTenantAdminAddsPerson},
		{"OperatorCreatesTenantAndScope", testOperatorCreatesTenantAndScope},
		{"OperatorBadInput_RefusedWithMessage_NothingWritten", testOperatorBadInput},
		{"ReloadAfterCredentialShown_RepeatsNothing_ShownCredentialWorks", testReloadAfterCredentialShown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Tabs of one browser are safe in parallel; -parallel
			// (GOMAXPROCS by default) bounds how many run at once.
			t.Parallel()
			tt.run(t, startKeyshift(t, browser))
		})
	}
}

func signInAlice(t *testing.T, k *keyshift) *person {
	t.Helper()
	p, resp := k.signIn(t, acme, "alice", "demo-alice-pass")
	if resp.Status != http.StatusOK {
		t.Fatalf("alice signed in and got status %d, want 200", resp.Status)
	}
	return p
}

func signInOperator(t *testing.T, k *keyshift) *person {
	t.Helper()
	p, resp := k.signIn(t, "platform", "operator", "demo-operator-pass")
	if resp.Status != http.StatusOK {
		t.Fatalf("the operator signed in and got status %d, want 200", resp.Status)
	}
	return p
}

// scopeBox is the CSS selector of the scope picker's checkbox for scope
// (ids are "scope-"+name; the dots need escaping in CSS).
func scopeBox(scope string) string {
	return "#scope-" + strings.ReplaceAll(scope, ".", `\.`)
}

func testCreateClientWithThreeScopes(t *testing.T, k *keyshift) {
	alice := signInAlice(t, k)
	alice.open(t, "/console/t/acme/clients/new")

	scopes := []string{"core.invoice.read", "core.purchase_order.read", "core.supplier.read"}
	alice.do(t, chromedp.SetValue(chromedp.ID("name"), "Browser test integration"))
	for _, s := range scopes {
		alice.do(t, chromedp.Click(chromedp.CSS(scopeBox(s)), chromedp.NodeVisible))
	}
	checked := eval[[]string](t, alice, `[...document.querySelectorAll('input[name=scope]:checked')].map(e => e.value)`)
	slices.Sort(checked)
	if !slices.Equal(checked, scopes) {
		t.Fatalf("checked scopes before submit = %v, want %v", checked, scopes)
	}
	// The POST redirects (303) to the page that shows the secret once.
	if resp := alice.click(t, `//button[normalize-space()="Create client"]`); resp.Status != http.StatusOK {
		t.Fatalf("create client: status %d, want 200 after the redirect", resp.Status)
	}

	// The secret starts hidden; the Show button reveals it.
	if !eval[bool](t, alice, `document.getElementById("new-secret").hidden`) {
		t.Error("the new secret is visible before Show was pressed")
	}
	alice.do(t, chromedp.Click(chromedp.CSS(`button[data-toggle="new-secret"]`), chromedp.NodeVisible))
	if got := eval[string](t, alice, `document.querySelector('button[data-toggle="new-secret"]').getAttribute("aria-expanded")`); got != "true" {
		t.Errorf("Show button aria-expanded = %q after a click, want true", got)
	}
	secret := alice.text(t, "#new-secret")
	clientID := alice.text(t, "#new-client-id")
	if !strings.HasPrefix(secret, "kss_") {
		t.Fatalf("shown secret %q does not look like a client secret (kss_…)", secret)
	}

	// The secret really works: a token with the three scopes.
	tok := k.token(t, clientID, secret)
	scope, _ := tok.Extra("scope").(string)
	granted := strings.Fields(scope)
	for _, s := range scopes {
		if !slices.Contains(granted, s) {
			t.Errorf("token scope %q lacks %s", scope, s)
		}
	}
}

func testConvertLegacyKeyThenDisable(t *testing.T, k *keyshift) {
	alice := signInAlice(t, k)

	alice.open(t, "/console/t/acme/")
	if got := alice.text(t, "#migration-status"); got == "migrated" {
		t.Fatalf("tenant is %q before its legacy key was disabled", got)
	}

	alice.open(t, "/console/t/acme/keys")
	if resp := alice.click(t, `//button[normalize-space()="Convert to client"]`); resp.Status != http.StatusOK {
		t.Fatalf("convert key: status %d, want 200", resp.Status)
	}
	secret := alice.text(t, "#conv-secret")
	clientID := alice.text(t, "#conv-id")
	tok := k.token(t, clientID, secret)
	// The demo key has invoices:read, which the catalogue maps to core.invoice.read.
	if scope, _ := tok.Extra("scope").(string); !slices.Contains(strings.Fields(scope), "core.invoice.read") {
		t.Errorf("converted client's token scope %q lacks core.invoice.read (the key's invoices:read)", scope)
	}

	if resp := alice.click(t, `//button[normalize-space()="Disable"]`); resp.Status != http.StatusOK {
		t.Fatalf("disable key: status %d, want 200", resp.Status)
	}
	if got := alice.text(t, ".flash"); got != "Key disabled." {
		t.Errorf("flash after disabling = %q, want %q", got, "Key disabled.")
	}
	alice.open(t, "/console/t/acme/")
	if got := alice.text(t, "#migration-status"); got != "migrated" {
		t.Errorf("migration status after converting and disabling the only key = %q, want migrated", got)
	}
}

func testOperatorAddsBrownout(t *testing.T, k *keyshift) {
	op := signInOperator(t, k)
	op.open(t, "/console/timeline")

	// Before the demo's keys-off day (120 days out), so the timeline is valid.
	start := time.Now().UTC().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	end := start.Add(2 * time.Hour)
	op.do(t,
		chromedp.SetValue(chromedp.ID("bo-start"), start.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.ID("bo-end"), end.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.ID("bo-tenants"), acme),
	)
	if resp := op.click(t, `//button[normalize-space()="Add brownout"]`); resp.Status != http.StatusOK {
		t.Fatalf("add brownout: status %d, want 200", resp.Status)
	}
	if got := op.text(t, ".flash"); got != "Brownout added." {
		t.Errorf("flash = %q, want %q", got, "Brownout added.")
	}
	listed := op.text(t, `section[aria-labelledby="bo-h"] ul`)
	want := start.Format("2006-01-02 15:04 UTC") + " – " + end.Format("2006-01-02 15:04 UTC") + " for acme"
	if !strings.Contains(listed, want) {
		t.Errorf("brownout list = %q, want it to contain %q", listed, want)
	}

	var tl struct {
		Brownouts []struct {
			Start, End time.Time
			Tenants    []string
		} `json:"brownouts"`
	}
	k.adminGet(t, "/admin/v1/timeline", &tl)
	found := false
	for _, b := range tl.Brownouts {
		found = found || (b.Start.Equal(start) && b.End.Equal(end) && slices.Equal(b.Tenants, []string{acme}))
	}
	if !found {
		t.Errorf("GET /admin/v1/timeline brownouts = %+v, want %s–%s for [acme]", tl.Brownouts, start, end)
	}
}

func testTenantAdminEditsURL(t *testing.T, k *keyshift) {
	alice := signInAlice(t, k)
	// What a tenant that does not exist looks like: another tenant's pages
	// must look the same, so the console does not confirm that it exists.
	alice.open(t, "/console/t/no-such-tenant/keys")
	unknown := alice.text(t, "main")
	tests := []struct {
		path string
		want int
	}{
		{"/console/t/acme/keys", http.StatusOK}, // her own tenant: the control
		{"/console/t/platform/", http.StatusNotFound},
		{"/console/tenants", http.StatusNotFound},
		{"/console/timeline", http.StatusNotFound},
		{"/console/t/globex/", http.StatusNotFound},
		{"/console/t/globex/keys", http.StatusNotFound},
		{"/console/t/globex/clients/new", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := alice.open(t, tt.path)
			if resp.Status != int64(tt.want) {
				t.Fatalf("status %d, want %d", resp.Status, tt.want)
			}
			if tt.want != http.StatusNotFound {
				return
			}
			if h1 := alice.text(t, "h1"); !strings.HasPrefix(h1, "Not found") {
				t.Errorf("heading %q, want Not found", h1)
			}
			body := alice.text(t, "main")
			if strings.HasPrefix(tt.path, "/console/t/") && body != unknown {
				t.Errorf("404 page %q differs from an unknown tenant's %q: it tells the tenant exists", body, unknown)
			}
			if strings.Contains(body, "Globex") {
				t.Errorf("404 page shows another tenant's name: %q", body)
			}
		})
	}
}

func testFormWithoutCSRFToken(t *testing.T, k *keyshift) {
	alice := signInAlice(t, k)
	tests := []struct {
		name, tamper string
	}{
		{"token removed", `f.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())`},
		{"token replaced", `f.querySelectorAll('input[name=csrf_token]').forEach(e => e.value = 'forged')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "CSRF probe " + tt.name
			alice.open(t, "/console/t/acme/clients/new")
			alice.do(t,
				chromedp.SetValue(chromedp.ID("name"), name),
				chromedp.Click(chromedp.CSS(scopeBox("core.invoice.read")), chromedp.NodeVisible),
			)
			n := eval[int](t, alice, `(() => { const f = document.querySelector('form[action="/console/t/acme/clients"]');
				const n = f.querySelectorAll('input[name=csrf_token]').length; `+tt.tamper+`; return n; })()`)
			if n != 1 {
				t.Fatalf("create-client form has %d csrf_token inputs, want 1", n)
			}
			if resp := alice.click(t, `//button[normalize-space()="Create client"]`); resp.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.Status)
			}
			if msg := alice.text(t, "main"); !strings.Contains(msg, "did not come from the console") {
				t.Errorf("403 page says %q, want the form-expired explanation", msg)
			}
			var list admin.ClientList
			k.adminGet(t, "/admin/v1/tenants/acme/clients", &list)
			for _, c := range list.Clients {
				if c.Name == name {
					t.Errorf("client %s (%q) was created from a form without a valid CSRF token", c.ClientID, name)
				}
			}
		})
	}
}

func testUserWithoutAdminRole(t *testing.T, k *keyshift) {
	bob, resp := k.signIn(t, acme, "bob", "demo-bob-password")
	if resp.Status != http.StatusForbidden {
		t.Fatalf("bob signed in and got status %d, want 403", resp.Status)
	}
	for _, path := range []string{"/console/", "/console/t/acme/keys", "/console/t/acme/clients/new", "/console/tenants"} {
		t.Run(path, func(t *testing.T) {
			if resp := bob.open(t, path); resp.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.Status)
			}
			if msg := bob.text(t, "main"); !strings.Contains(msg, "no administration rights") {
				t.Errorf("403 page says %q, want %q", msg, "no administration rights")
			}
		})
	}
}

// mainPage is one of the console's main pages, as one person sees it.
type mainPage struct {
	name, path string
	// keyboardTarget is a CSS selector that Tab from the page start must
	// reach (the sign-out button on console pages).
	keyboardTarget string
	// skipLink: the page starts with the console's skip link.
	skipLink bool
}

// signOut is the layout's sign-out button, which Tab must reach.
const signOut = "form.signout button"

// testTenantPages checks the login page and every tenant page as alice
// sees them; testOperatorPages every operator page. See checkMainPages.
func testTenantPages(t *testing.T, k *keyshift) {
	visitor := k.newTab(t) // never signs in: sees the login page
	checkMainPages(t, visitor, []mainPage{{name: "login", path: "/console/", keyboardTarget: `button[type=submit]`}})
	var pages []mainPage
	for _, p := range [][2]string{
		{"tenant-overview", "/console/t/acme/"},
		{"tenant-keys", "/console/t/acme/keys"},
		{"tenant-clients", "/console/t/acme/clients"},
		{"tenant-client-new", "/console/t/acme/clients/new"},
		{"tenant-client-detail", "/console/t/acme/clients/" + k.seeded.ClientID},
		{"tenant-test", "/console/t/acme/test"},
		{"tenant-audit", "/console/t/acme/audit"},
		{"tenant-users", "/console/t/acme/users"},
		{"tenant-webhook", "/console/t/acme/webhook"},
	} {
		pages = append(pages, mainPage{name: p[0], path: p[1], keyboardTarget: signOut, skipLink: true})
	}
	checkMainPages(t, signInAlice(t, k), pages)
}

func testOperatorPages(t *testing.T, k *keyshift) {
	var pages []mainPage
	for _, p := range [][2]string{
		{"operator-tenants", "/console/tenants"},
		{"operator-timeline", "/console/timeline"},
		{"operator-impact", "/console/impact"},
		{"operator-signing-keys", "/console/signing-keys"},
		{"operator-scopes", "/console/scopes"},
	} {
		pages = append(pages, mainPage{name: p[0], path: p[1], keyboardTarget: signOut, skipLink: true})
	}
	checkMainPages(t, signInOperator(t, k), pages)
}

// checkMainPages checks each page for keyboard reach (skip link first,
// then pg.keyboardTarget), labelled fields, text and button contrast in
// light and dark schemes, and no horizontal overflow at 360 px, and
// writes a screenshot of each (full page light, viewport dark).
func checkMainPages(t *testing.T, p *person, pages []mainPage) {
	t.Helper()
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			if resp := p.open(t, pg.path); resp.Status != http.StatusOK {
				t.Fatalf("open %s: status %d, want 200", pg.path, resp.Status)
			}
			// First, while the focus is still at the start of the page.
			t.Run("keyboard", func(t *testing.T) { checkKeyboard(t, p, pg) })
			t.Run("every field labelled", func(t *testing.T) { checkLabels(t, p) })
			for _, scheme := range []string{"light", "dark"} {
				t.Run("contrast "+scheme, func(t *testing.T) {
					p.colorScheme(t, scheme)
					checkContrast(t, p, scheme)
				})
			}
			t.Run("screenshot", func(t *testing.T) {
				eval[bool](t, p, `(document.activeElement && document.activeElement.blur(), true)`) // no focus ring
				p.colorScheme(t, "light")
				checkPNG(t, p.screenshot(t, pg.name))
				p.colorScheme(t, "dark")
				checkPNG(t, p.viewportScreenshot(t, pg.name+"-dark"))
				p.colorScheme(t, "light")
			})
			t.Run("no horizontal overflow at 360px", func(t *testing.T) {
				p.do(t, chromedp.EmulateViewport(360, 740))
				defer p.do(t, chromedp.EmulateViewport(1280, 900))
				p.open(t, pg.path)
				width := eval[int](t, p, `document.documentElement.scrollWidth`)
				if width > 361 {
					p.viewportScreenshot(t, pg.name+"-360px")
					wide := eval[[]string](t, p, wideElementsJS)
					t.Errorf("page is %d px wide at a 360 px viewport; elements past the edge: %v", width, wide)
				}
			})
		})
	}
}

// checkPNG asserts the file is a non-trivial PNG.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b := readFile(t, path)
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 2000 {
		t.Errorf("%s is not a PNG screenshot (%d bytes)", path, len(b))
	}
}

// labelsJS lists the visible form fields that have no accessible label:
// neither a <label> (for= or wrapping, i.e. el.labels) with text, nor
// aria-label, nor aria-labelledby.
const labelsJS = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const r = el.getBoundingClientRect(), st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden' || (r.width === 0 && r.height === 0)) continue;
    const byLabel = [...(el.labels || [])].some(l => l.textContent.trim() !== '');
    const byAria = (el.getAttribute('aria-label') || '').trim() !== '' ||
      (el.getAttribute('aria-labelledby') || '').split(/\s+/).some(id => id && document.getElementById(id));
    if (!byLabel && !byAria) bad.push(el.outerHTML.slice(0, 160));
  }
  return bad;
})()`

func checkLabels(t *testing.T, p *person) {
	t.Helper()
	if bad := eval[[]string](t, p, labelsJS); len(bad) > 0 {
		t.Errorf("fields without a label: %v", bad)
	}
}

// focusedJS describes the focused element.
const focusedJS = `(() => { const e = document.activeElement;
  return e ? e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' "' + (e.textContent || e.value || '').trim().slice(0, 40) + '"' : 'none'; })()`

// checkKeyboard runs on a freshly opened page (focus at the page start):
// the first Tab must land on the skip link, shown on screen, and Tab must
// go on to reach pg.keyboardTarget.
func checkKeyboard(t *testing.T, p *person, pg mainPage) {
	t.Helper()
	// Record every focused element, so Tabs can be sent in batches.
	eval[bool](t, p, `(() => { window.__focused = [];
	  document.addEventListener('focusin', e => window.__focused.push(e.target), true); return true; })()`)
	p.pressTab(t)
	if pg.skipLink {
		if !eval[bool](t, p, `document.activeElement.matches('a.skip[href="#main"]')`) {
			t.Fatalf("first Tab focused %s, want the skip link", eval[string](t, p, focusedJS))
		}
		if !eval[bool](t, p, `(() => { const r = document.activeElement.getBoundingClientRect();
		    return r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.width > 0; })()`) {
			t.Error("the focused skip link is off screen")
		}
	}
	reached := `window.__focused.some(e => e.matches(` + jsString(pg.keyboardTarget) + `))`
	for range 10 {
		if eval[bool](t, p, reached) {
			return
		}
		p.do(t, chromedp.KeyEvent(strings.Repeat("\t", 5)))
	}
	t.Errorf("50 Tab presses did not reach %s; focus ended on %s", pg.keyboardTarget, eval[string](t, p, focusedJS))
}

// contrastJS measures WCAG contrast ratios of the page's body text and its
// primary (filled) buttons against their effective backgrounds.
const contrastJS = `(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const v = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const lum = c => { const f = x => { x /= 255; return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  const add = (what, el) => { if (!el) return; const st = getComputedStyle(el); const fg = parse(st.color), b = bg(el);
    if (!fg) { out.push({what, ratio: 0, detail: 'unparsed color ' + st.color}); return; }
    const l1 = lum(fg), l2 = lum(b);
    out.push({what, ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05),
      detail: st.color + ' on rgb(' + b.r + ', ' + b.g + ', ' + b.b + ')'}); };
  add('body text', document.body);
  add('main text', document.querySelector('main p, main td, main li'));
  add('muted text', document.querySelector('.muted, .who, .small'));
  add('link', document.querySelector('main a, nav a'));
  add('primary button', [...document.querySelectorAll('button')].find(b =>
    !b.matches('.secondary, .link, .danger') && b.getClientRects().length > 0));
  add('danger button', [...document.querySelectorAll('button.danger')].find(b => b.getClientRects().length > 0));
  return out;
})()`

func checkContrast(t *testing.T, p *person, scheme string) {
	t.Helper()
	type measure struct {
		What   string  `json:"what"`
		Ratio  float64 `json:"ratio"`
		Detail string  `json:"detail"`
	}
	ms := eval[[]measure](t, p, contrastJS)
	if len(ms) == 0 || ms[0].What != "body text" {
		t.Fatalf("no body text measured: %+v", ms)
	}
	for _, m := range ms {
		if m.Ratio < 4.5 {
			t.Errorf("%s scheme: %s contrast %.2f < 4.5 (%s)", scheme, m.What, m.Ratio, m.Detail)
		}
	}
}

// wideElementsJS names the elements that reach past the viewport's right edge.
const wideElementsJS = `(() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .filter(e => !e.closest('.table-wrap') || e.matches('.table-wrap'))
  .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') +
    ' right=' + Math.round(e.getBoundingClientRect().right)))()`

func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// testTenantAdminAddsPerson: alice adds carol as an admin on the People page;
// the password shown once signs carol in to the console.
func testTenantAdminAddsPerson(t *testing.T, k *keyshift) {
	alice := signInAlice(t, k)
	alice.open(t, "/console/t/acme/users")
	alice.do(t, chromedp.SetValue(chromedp.ID("user-login"), "carol"), chromedp.SetValue(chromedp.ID("user-email"), "carol@acme.example"))
	alice.do(t, chromedp.Click(chromedp.CSS(`input[name=admin]`), chromedp.NodeVisible))
	if resp := alice.click(t, `//button[normalize-space()="Add and generate a password"]`); resp.Status != http.StatusOK {
		t.Fatalf("add person: status %d, want 200 after the redirect", resp.Status)
	}
	pw := alice.text(t, "#new-password")
	if len(pw) < 12 {
		t.Fatalf("shown password %q is too short to be a generated one", pw)
	}
	carol, resp := k.signIn(t, acme, "carol", pw)
	if resp.Status != http.StatusOK {
		t.Fatalf("carol signed in with the shown password and got status %d, want 200", resp.Status)
	}
	if got := carol.text(t, ".who"); !strings.Contains(got, "carol") && !strings.Contains(got, "Carol") {
		t.Fatalf("signed in as %q, want carol", got)
	}
}

// testOperatorCreatesTenantAndScope: the operator creates a tenant and a
// scope from the console; the admin API sees both.
func testOperatorCreatesTenantAndScope(t *testing.T, k *keyshift) {
	op := signInOperator(t, k)
	op.open(t, "/console/tenants")
	op.do(t, chromedp.SetValue(chromedp.ID("tenant-id"), "initech"), chromedp.SetValue(chromedp.ID("tenant-name"), "Initech"))
	if resp := op.click(t, `//button[normalize-space()="Create tenant"]`); resp.Status != http.StatusOK {
		t.Fatalf("create tenant: status %d", resp.Status)
	}
	if got := op.text(t, "main"); !strings.Contains(got, "Tenant created.") || !strings.Contains(got, "initech") {
		t.Fatalf("tenants page after creation does not list initech:\n%s", got)
	}
	var tenant struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	k.adminGet(t, "/admin/v1/tenants/initech", &tenant)
	if tenant.ID != "initech" || tenant.Status != "active" {
		t.Fatalf("admin API tenant = %+v", tenant)
	}

	// Disabling asks first; only the confirmation disables.
	op.click(t, `button[aria-label="Disable tenant initech"]`)
	if got := op.text(t, "main"); !strings.Contains(got, "Disable tenant initech?") {
		t.Fatalf("no confirmation page:\n%s", got)
	}
	k.adminGet(t, "/admin/v1/tenants/initech", &tenant)
	if tenant.Status != "active" {
		t.Fatalf("the tenant was disabled before the confirmation: %+v", tenant)
	}
	op.click(t, `//button[normalize-space()="Disable initech"]`)
	k.adminGet(t, "/admin/v1/tenants/initech", &tenant)
	if tenant.Status != "disabled" {
		t.Fatalf("after confirming, tenant = %+v", tenant)
	}

	op.open(t, "/console/scopes")
	op.do(t, chromedp.SetValue(chromedp.ID("scope-name"), "core.widget.read"),
		chromedp.SetValue(chromedp.ID("scope-description"), "Read widgets"),
		chromedp.SetValue(chromedp.ID("scope-permissions"), "widgets:read"))
	if resp := op.click(t, `//button[normalize-space()="Save scope"]`); resp.Status != http.StatusOK {
		t.Fatalf("save scope: status %d", resp.Status)
	}
	var list struct {
		Scopes []struct {
			Name        string   `json:"name"`
			Permissions []string `json:"permissions"`
		} `json:"scopes"`
	}
	k.adminGet(t, "/admin/v1/scopes", &list)
	i := slices.IndexFunc(list.Scopes, func(s struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	}) bool {
		return s.Name == "core.widget.read"
	})
	if i < 0 || !slices.Equal(list.Scopes[i].Permissions, []string{"widgets:read"}) {
		t.Fatalf("admin API has no core.widget.read covering widgets:read")
	}
}

// testOperatorBadInput: hostile or malformed form input gets a clear
// refusal page and writes nothing.
func testOperatorBadInput(t *testing.T, k *keyshift) {
	op := signInOperator(t, k)

	// A brownout that ends before it starts.
	op.open(t, "/console/timeline")
	op.do(t, chromedp.SetValue(chromedp.ID("bo-start"), "2030-01-02T10:00"), chromedp.SetValue(chromedp.ID("bo-end"), "2030-01-01T10:00"))
	if resp := op.click(t, `//button[normalize-space()="Add brownout"]`); resp.Status < 400 || resp.Status >= 500 {
		t.Fatalf("inverted brownout: status %d, want 4xx", resp.Status)
	}
	if got := op.text(t, "main"); !strings.Contains(got, "was not saved") {
		t.Fatalf("no explanation on the page:\n%s", got)
	}
	var tl struct {
		Brownouts []json.RawMessage `json:"brownouts"`
	}
	k.adminGet(t, "/admin/v1/timeline", &tl)
	if len(tl.Brownouts) != 0 {
		t.Fatalf("a refused brownout was stored: %s", tl.Brownouts)
	}

	// A tenant id that is no id, and markup in a name.
	op.open(t, "/console/tenants")
	op.do(t, chromedp.SetValue(chromedp.ID("tenant-id"), "Bad ID!"), chromedp.SetValue(chromedp.ID("tenant-name"), "<script>alert(1)</script>"))
	if resp := op.click(t, `//button[normalize-space()="Create tenant"]`); resp.Status < 400 || resp.Status >= 500 {
		t.Fatalf("bad tenant id: status %d, want 4xx", resp.Status)
	}
	if eval[bool](t, op, `!!document.querySelector("main script")`) {
		t.Fatal("the page rendered a script element from input")
	}
	var tenants struct {
		Tenants []struct {
			ID string `json:"id"`
		} `json:"tenants"`
	}
	k.adminGet(t, "/admin/v1/tenants", &tenants)
	for _, tn := range tenants.Tenants {
		if tn.ID == "Bad ID!" {
			t.Fatal("a tenant with an invalid id was created")
		}
	}

	// A scope name that is not service.object.right.
	op.open(t, "/console/scopes")
	op.do(t, chromedp.SetValue(chromedp.ID("scope-name"), "nodots"))
	if resp := op.click(t, `//button[normalize-space()="Save scope"]`); resp.Status < 400 || resp.Status >= 500 {
		t.Fatalf("bad scope name: status %d, want 4xx", resp.Status)
	}
	if got := op.text(t, "main"); !strings.Contains(got, "was not saved") {
		t.Fatalf("no explanation on the scopes page:\n%s", got)
	}
}

// testReloadAfterCredentialShown: a person reloads each page that showed a
// credential once (a created client, a rotated secret, an added person).
// The reload sends nothing again: one client, one rotation, one person;
// the credential is not shown again, and the one that was shown works.
func testReloadAfterCredentialShown(t *testing.T, k *keyshift) {
	alice := signInAlice(t, k)
	reload := func(what string) {
		t.Helper()
		resp, err := chromedp.RunResponse(alice.ctx, chromedp.Reload())
		if err != nil {
			t.Fatalf("reload after %s: %v", what, err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("reload after %s: status %d, want 200", what, resp.Status)
		}
		if got := alice.text(t, ".flash"); !strings.Contains(got, "shown once") {
			t.Errorf("reload after %s: flash %q does not say the credential was shown once", what, got)
		}
	}
	absent := func(what, id string) {
		t.Helper()
		if n := eval[int](t, alice, `document.querySelectorAll("#`+id+`").length`); n != 0 {
			t.Errorf("reload after %s shows #%s again", what, id)
		}
	}

	// A new client.
	alice.open(t, "/console/t/acme/clients/new")
	alice.do(t, chromedp.SetValue(chromedp.ID("name"), "Reload test"))
	alice.do(t, chromedp.Click(chromedp.CSS(scopeBox("core.invoice.read")), chromedp.NodeVisible))
	alice.click(t, `//button[normalize-space()="Create client"]`)
	clientID := alice.text(t, "#new-client-id")
	secret := eval[string](t, alice, `document.getElementById("new-secret").textContent`)
	reload("creating a client")
	absent("creating a client", "new-secret")
	var list struct {
		Clients []admin.ClientView `json:"clients"`
	}
	k.adminGet(t, "/admin/v1/tenants/acme/clients", &list)
	n := 0
	for _, c := range list.Clients {
		if c.Name == "Reload test" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d clients named %q after a reload of the created page, want 1", n, "Reload test")
	}
	k.token(t, clientID, secret)

	// A rotated secret: the reload must not rotate again (which would push
	// the shown secret's predecessor out and leave two secrets nobody saw).
	alice.open(t, "/console/t/acme/clients/"+clientID)
	alice.click(t, `//button[normalize-space()="Create a new secret"]`)
	rotated := alice.text(t, "#rot-secret")
	reload("rotating the secret")
	absent("rotating the secret", "rot-secret")
	var cv admin.ClientView
	k.adminGet(t, "/admin/v1/tenants/acme/clients/"+clientID, &cv)
	if len(cv.Secrets) != 2 {
		t.Fatalf("client has %d secrets after one rotation and a reload, want 2 (old and new)", len(cv.Secrets))
	}
	k.token(t, clientID, rotated)
	k.token(t, clientID, secret) // the overlap: the first secret still works

	// A new person: the reload adds nobody and generates no new password.
	alice.open(t, "/console/t/acme/users")
	alice.do(t, chromedp.SetValue(chromedp.ID("user-login"), "dave"), chromedp.SetValue(chromedp.ID("user-email"), "dave@acme.example"))
	alice.do(t, chromedp.Click(chromedp.CSS(`input[name=admin]`), chromedp.NodeVisible))
	alice.click(t, `//button[normalize-space()="Add and generate a password"]`)
	pw := alice.text(t, "#new-password")
	reload("adding a person")
	absent("adding a person", "new-password")
	if p := alice.path(t); !strings.HasPrefix(p, "/console/t/acme/users?") {
		t.Errorf("after the reload the page is %s, want the People page", p)
	}
	if _, resp := k.signIn(t, acme, "dave", pw); resp.Status != http.StatusOK {
		t.Fatalf("dave signed in with the password shown before the reload: status %d, want 200", resp.Status)
	}
}
