// Package authztest is for tests only: a scripted person at a web browser
// who signs in and answers keyshift's sign-in, consent and device pages.
// The authz package's own tests and the server's end-to-end tests share it,
// so it must not import internal/authz; it names the pages by their paths.
package authztest

import (
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
)

// LoginPath is the path of keyshift's sign-in page.
const LoginPath = oauth.PathLogin

// approveInput marks a page that asks the person to approve or deny.
const approveInput = `name="decision" value="approve"`

// Browser keeps cookies, follows keyshift's own redirects and stops at the
// first redirect elsewhere (the client's redirect URI), which it records in
// Landed.
type Browser struct {
	t testing.TB
	// Client is the browser's HTTP client; tests may set its Timeout.
	Client *http.Client
	// Issuer is keyshift's base URL, without a trailing slash.
	Issuer string
	// Landed is the redirect of the last request that left keyshift, or nil.
	Landed *url.URL
}

// NewBrowser is a browser with an empty cookie jar.
func NewBrowser(t testing.TB, issuer string) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, Issuer: issuer}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), issuer+"/") {
			b.Landed = req.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	return b
}

// NewBrowserFrom is a browser whose connections come from ip (any address
// of 127.0.0.0/8 works on Linux), for tests of per-address limits.
func NewBrowserFrom(t testing.TB, issuer, ip string) *Browser {
	t.Helper()
	b := NewBrowser(t, issuer)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	b.Client.Transport = tr
	return b
}

// Page is a page the browser got, after the redirects it followed.
type Page struct {
	Status int
	URL    *url.URL
	Body   string
	Header http.Header
}

// Get opens u.
func (b *Browser) Get(u string) Page {
	b.t.Helper()
	b.Landed = nil
	resp, err := b.Client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return read(resp)
}

// Post posts the form f to u.
func (b *Browser) Post(u string, f url.Values) Page {
	b.t.Helper()
	b.Landed = nil
	resp, err := b.Client.PostForm(u, f)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return read(resp)
}

func read(resp *http.Response) Page {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body), Header: resp.Header}
}

var (
	formRe  = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input[^>]*\bname="([^"]*)"[^>]*>`)
	valueRe = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

// Form returns the page's first form: its action and the values of its
// inputs, HTML-unescaped.
func (p Page) Form(t testing.TB) (string, url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no form on page %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	v := url.Values{}
	for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
		val := ""
		if vm := valueRe.FindStringSubmatch(in[0]); vm != nil {
			val = html.UnescapeString(vm[1])
		}
		v.Set(html.UnescapeString(in[1]), val)
	}
	return html.UnescapeString(m[1]), v
}

// Submit posts the page's first form with its inputs' values, changed by
// set, to the form's action (relative to the page).
func (b *Browser) Submit(p Page, set map[string]string) Page {
	b.t.Helper()
	action, f := p.Form(b.t)
	for k, v := range set {
		f.Set(k, v)
	}
	u, err := p.URL.Parse(action)
	if err != nil {
		b.t.Fatalf("form action %q: %v", action, err)
	}
	return b.Post(u.String(), f)
}

// SignIn fills and posts the login form on p; tenant "" keeps the page's
// own.
func (b *Browser) SignIn(p Page, tenant, login, pw string) Page {
	b.t.Helper()
	if !strings.HasPrefix(p.URL.Path, LoginPath) {
		b.t.Fatalf("expected the login page, got %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	set := map[string]string{"login": login, "password": pw}
	if tenant != "" {
		set["tenant"] = tenant
	}
	return b.Submit(p, set)
}

// IsLoginPage reports whether p is keyshift's login page, shown without
// error.
func (p Page) IsLoginPage() bool { return p.URL.Path == LoginPath && p.Status == http.StatusOK }

// AsksApproval reports whether p asks the person to approve or deny
// (a consent or device confirmation page).
func (p Page) AsksApproval() bool { return strings.Contains(p.Body, approveInput) }

// Decide answers a consent or device confirmation page with decision
// "approve" or "deny".
func (b *Browser) Decide(p Page, decision string) Page {
	b.t.Helper()
	if !p.AsksApproval() {
		b.t.Fatalf("expected a page that asks for approval, got %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	return b.Submit(p, map[string]string{"decision": decision})
}

// Approve is Decide with "approve".
func (b *Browser) Approve(p Page) Page {
	b.t.Helper()
	return b.Decide(p, "approve")
}

// LeftTo is where keyshift last sent the browser away to; the test fails
// if it did not.
func (b *Browser) LeftTo() *url.URL {
	b.t.Helper()
	if b.Landed == nil {
		b.t.Fatal("keyshift did not send the browser back to the client")
	}
	return b.Landed
}

// Callback is the query the browser brought back to the client.
func (b *Browser) Callback() url.Values {
	b.t.Helper()
	return b.LeftTo().Query()
}

// NoFollow is a client sharing the browser's cookies and connections that
// does not follow redirects, to look at one response's own headers.
func (b *Browser) NoFollow() *http.Client {
	return &http.Client{Jar: b.Client.Jar, Transport: b.Client.Transport, Timeout: b.Client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Cookie is the value of the browser's cookie name for the issuer, or "".
func (b *Browser) Cookie(name string) string {
	u, err := url.Parse(b.Issuer + "/")
	if err != nil {
		b.t.Fatalf("issuer %q: %v", b.Issuer, err)
	}
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
