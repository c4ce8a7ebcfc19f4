package authz

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/password"
	"github.com/keyshift/keyshift/internal/store"
)

// cheapPasswords keeps argon2id fast in tests; the parameters are not
// what is under test here.
func cheapPasswords(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newOIDCEnv is an env with cheap password hashing, a tenant "acme" and its
// user alice (password alicePassword).
func newOIDCEnv(t testing.TB, mod ...func(*Config)) *env {
	t.Helper()
	e := newEnv(t, append([]func(*Config){func(c *Config) { c.Passwords = cheapPasswords(t) }}, mod...)...)
	e.tenant("acme", store.StatusActive)
	e.user("acme", "alice", alicePassword, nil)
	return e
}

const alicePassword = "correct horse battery staple"

// user creates a user with a password; it returns the user's id.
func (e *env) user(tenant, login, pw string, roles []string) string {
	e.t.Helper()
	h, err := e.srv.passwords.Hash(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	u := store.User{
		ID: credential.ID("usr_", 16), Tenant: tenant, Login: login, Email: login + "@" + tenant + ".example",
		Name: strings.ToUpper(login[:1]) + login[1:], PasswordHash: h, Roles: roles,
	}
	if err := e.st.Tx(e.ctx, func(tx store.Tx) error { return tx.CreateUser(e.ctx, u) }); err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u.ID
}

// webClient registers a confidential client of the code flow (basic auth,
// refresh tokens) with the given redirect URI.
func (e *env) webClient(tenant, redirect string, mod ...func(*store.Client)) testClient {
	e.t.Helper()
	return e.client(tenant, []string{"core.invoice.read"}, append([]func(*store.Client){func(c *store.Client) {
		c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
		c.RedirectURIs = []string{redirect}
		c.PostLogoutRedirectURIs = []string{redirect + "/bye"}
	}}, mod...)...)
}

// browser is a scripted person at a web browser: it keeps cookies, follows
// keyshift's own redirects and stops at the first redirect elsewhere
// (the client's redirect URI), which it records.
type browser struct {
	t      testing.TB
	c      *http.Client
	issuer string
	// landed is the redirect that left keyshift, if any.
	landed *url.URL
}

func newBrowser(t testing.TB, issuer string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, issuer: issuer}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), issuer+"/") {
			b.landed = req.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	return b
}

// page is an HTML page the browser got.
type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) get(u string) page {
	b.t.Helper()
	b.landed = nil
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return b.read(resp)
}

func (b *browser) post(u string, f url.Values) page {
	b.t.Helper()
	b.landed = nil
	resp, err := b.c.PostForm(u, f)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) page {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(body), header: resp.Header}
}

var (
	formRe  = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input[^>]*\bname="([^"]*)"[^>]*>`)
	valueRe = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

// form returns the page's form: its action and the values of its inputs.
func (p page) form(t testing.TB) (string, url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on page %s (status %d):\n%s", p.url, p.status, p.body)
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

// signIn fills and posts the login form on p.
func (b *browser) signIn(p page, tenant, login, pw string) page {
	b.t.Helper()
	if !strings.HasPrefix(p.url.Path, PathLogin) {
		b.t.Fatalf("expected the login page, got %s (status %d):\n%s", p.url, p.status, p.body)
	}
	action, f := p.form(b.t)
	if tenant != "" {
		f.Set("tenant", tenant)
	}
	f.Set("login", login)
	f.Set("password", pw)
	return b.post(b.issuer+action, f)
}

// decide posts the consent page's form with decision "approve" or "deny".
func (b *browser) decide(p page, decision string) page {
	b.t.Helper()
	if !strings.Contains(p.body, `name="decision" value="approve"`) {
		b.t.Fatalf("expected the consent page, got %s (status %d):\n%s", p.url, p.status, p.body)
	}
	action, f := p.form(b.t)
	f.Set("decision", decision)
	return b.post(b.issuer+action, f)
}

// callback returns the query the browser brought back to the client.
func (b *browser) callback() url.Values {
	b.t.Helper()
	if b.landed == nil {
		b.t.Fatal("the browser was not sent back to the client")
	}
	return b.landed.Query()
}

// randomState is an unguessable state or nonce.
func randomState() string { return rand.Text() }

// jtiOf reads the jti of one of our access tokens (signature not checked:
// the test only needs to name it).
func jtiOf(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &cl); err != nil {
		t.Fatal(err)
	}
	return cl.JTI
}
