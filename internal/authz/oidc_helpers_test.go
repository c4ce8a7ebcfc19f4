package authz

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/authz/authztest"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
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
		c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
		c.RedirectURIs = []string{redirect}
		c.PostLogoutRedirectURIs = []string{redirect + "/bye"}
	}}, mod...)...)
}

// browser is the scripted person of authztest under the short names these
// tests use; the logic lives in authztest, shared with the server's tests.
type browser struct {
	*authztest.Browser
	t testing.TB
}

// TestAuthztest_LoginPath_IsAuthzs guards the path authztest must spell out
// (it cannot import this package).
func TestAuthztest_LoginPath_IsAuthzs(t *testing.T) {
	if authztest.LoginPath != oauth.PathLogin {
		t.Fatalf("authztest.LoginPath = %q, want oauth.PathLogin %q", authztest.LoginPath, oauth.PathLogin)
	}
}

func newBrowser(t testing.TB, issuer string) *browser {
	t.Helper()
	return &browser{Browser: authztest.NewBrowser(t, issuer), t: t}
}

// page is an HTML page the browser got: authztest.Page with the short
// field names these tests use, converted at the wrappers below.
type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func pageOf(p authztest.Page) page {
	return page{status: p.Status, url: p.URL, body: p.Body, header: p.Header}
}

func (p page) page() authztest.Page {
	return authztest.Page{Status: p.status, URL: p.url, Body: p.body, Header: p.header}
}

func (b *browser) get(u string) page { b.t.Helper(); return pageOf(b.Get(u)) }

func (b *browser) post(u string, f url.Values) page { b.t.Helper(); return pageOf(b.Post(u, f)) }

// form returns the page's form: its action and the values of its inputs.
func (p page) form(t testing.TB) (string, url.Values) { t.Helper(); return p.page().Form(t) }

// signIn fills and posts the login form on p.
func (b *browser) signIn(p page, tenant, login, pw string) page {
	b.t.Helper()
	return pageOf(b.SignIn(p.page(), tenant, login, pw))
}

// decide posts the consent page's form with decision "approve" or "deny".
func (b *browser) decide(p page, decision string) page {
	b.t.Helper()
	return pageOf(b.Decide(p.page(), decision))
}

// callback returns the query the browser brought back to the client.
func (b *browser) callback() url.Values { b.t.Helper(); return b.Callback() }

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
