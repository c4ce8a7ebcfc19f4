package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/server"
)

// chromiumPath is where Debian's chromium package puts the browser;
// scripts/test installs it when it is missing.
const chromiumPath = "/usr/bin/chromium"

// browserTestTimeout bounds one browser test (server and browser work);
// browserRunTimeout bounds the shared browser's whole life.
const (
	browserTestTimeout = 90 * time.Second
	browserRunTimeout  = 5 * time.Minute
)

// keyshift is a real keyshift server (fresh SQLite store, demo data, a
// second tenant "globex") on a loopback listener, seen through tabs of a
// real headless Chromium.
type keyshift struct {
	base     string
	srv      *server.Server
	operator *server.OperatorCredentials
	seeded   demo.Result
	browser  context.Context
	deadline time.Time
}

// startBrowser starts one headless Chromium for all the browser tests; it
// stops when t ends. Each test gets fresh browser contexts (own cookies)
// in it, so sharing the process costs no isolation.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	requireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container: Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	timeout, cancelTimeout := context.WithTimeout(context.Background(), browserRunTimeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		// Close the browser before t.TempDir removes its profile.
		_ = chromedp.Cancel(browser)
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	start := time.Now()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	return browser
}

// startKeyshift starts a server for one test, whose tabs open in browser.
// The server stops when the test ends; the test's tabs fail every action
// once browserTestTimeout has passed.
func startKeyshift(t *testing.T, browser context.Context) *keyshift {
	t.Helper()
	k := &keyshift{browser: browser, deadline: time.Now().Add(browserTestTimeout)}
	start := time.Now()
	k.startServer(t)
	t.Logf("keyshift ready in %v", time.Since(start).Round(time.Millisecond))
	return k
}

// requireChromium skips only when KEYSHIFT_TEST_NO_BROWSER=1; otherwise a
// missing browser fails the test, so CI cannot silently drop these tests.
func requireChromium(t *testing.T) {
	t.Helper()
	if os.Getenv("KEYSHIFT_TEST_NO_BROWSER") == "1" {
		t.Skip("browser tests skipped: KEYSHIFT_TEST_NO_BROWSER=1")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need Chromium at %s (./scripts/test installs it; or apt-get install chromium; "+
			"KEYSHIFT_TEST_NO_BROWSER=1 skips these tests): %v", chromiumPath, err)
	}
}

func (k *keyshift) startServer(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	st, err := server.OpenStore(ctx, filepath.Join(dir, "ks.db"), logger, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the server below has stopped
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.base = "http://" + ln.Addr().String()
	// As `keyshift serve --demo` does it: initialise, seed through the admin
	// API's operations, then build the server.
	if k.operator, err = server.Initialise(ctx, st, k.base, time.Now); err != nil || k.operator == nil {
		ln.Close()
		t.Fatalf("initialise: %v, %v", k.operator, err)
	}
	adm := admin.New(st, nil, nil, admin.Config{})
	if k.seeded, err = demo.Seed(ctx, adm, st, time.Now()); err != nil {
		ln.Close()
		t.Fatalf("seed demo: %v", err)
	}
	if _, err := adm.CreateTenant(ctx, admin.SystemPrincipal(), admin.CreateTenantRequest{ID: "globex", Name: "Globex"}); err != nil {
		ln.Close()
		t.Fatalf("create tenant globex: %v", err)
	}
	k.srv, err = server.New(ctx, server.Config{DB: filepath.Join(dir, "ks.db"), Issuer: k.base, Logger: logger,
		SecretFile: filepath.Join(dir, "ks.secret"), ShutdownTimeout: 5 * time.Second}, st)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// person is one signed-in browser session: its own browser context (own
// cookies) in the shared Chromium.
type person struct {
	k   *keyshift
	ctx context.Context
}

// newTab opens a tab with fresh cookies, signed in as nobody.
func (k *keyshift) newTab(t *testing.T) *person {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(k.browser, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithDeadline(tab, k.deadline)
	t.Cleanup(func() { cancel(); cancelTab() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &person{k: k, ctx: ctx}
}

// signIn opens the console in a fresh tab and signs in through keyshift's
// login page; it returns the tab and the response of the page the sign-in
// lands on.
func (k *keyshift) signIn(t *testing.T, tenant, login, password string) (*person, *network.Response) {
	t.Helper()
	start := time.Now()
	p := k.newTab(t)
	defer func() { t.Logf("signed in as %s/%s in %v", tenant, login, time.Since(start).Round(time.Millisecond)) }()
	p.open(t, "/console/")
	p.do(t, chromedp.WaitVisible(chromedp.ID("login")))
	if path, _, _ := strings.Cut(p.path(t), "?"); path != "/oauth2/login" {
		t.Fatalf("the console sent a new visitor to %s, want /oauth2/login", path)
	}
	p.do(t,
		chromedp.SetValue(chromedp.ID("tenant"), tenant),
		chromedp.SetValue(chromedp.ID("login"), login),
		chromedp.SetValue(chromedp.ID("password"), password),
	)
	resp := p.click(t, `//button[normalize-space()="Sign in"]`)
	if path := p.path(t); !strings.HasPrefix(path, "/console/") {
		t.Fatalf("after signing in as %s/%s the browser is on %s (status %d), want a console page", tenant, login, path, resp.Status)
	}
	return p, resp
}

// do runs actions in the tab and fails the test on error.
func (p *person) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// open navigates to path on the server and returns the document's response.
func (p *person) open(t *testing.T, path string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(p.ctx, chromedp.NavigateResponse(p.k.base+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return resp
}

// click clicks the element sel finds (an XPath or CSS selector, as
// chromedp's Search takes them) and waits for the page it loads.
func (p *person) click(t *testing.T, sel string) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.Search(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("click %s on %s: %v", sel, p.path(t), err)
	}
	return resp
}

// text is the visible text of the first element the CSS selector finds.
func (p *person) text(t *testing.T, css string) string {
	t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("text of %s on %s: %v", css, p.path(t), err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, p *person, js string) T {
	t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate on %s: %v\n%s", p.path(t), err, js)
	}
	return v
}

func (p *person) path(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return strings.TrimPrefix(loc, p.k.base)
}

// colorScheme emulates prefers-color-scheme (light or dark).
func (p *person) colorScheme(t *testing.T, scheme string) {
	t.Helper()
	_, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		t.Fatalf("emulate prefers-color-scheme: %s: %v", scheme, err)
	}
}

// pressTab sends one Tab key press to the page.
func (p *person) pressTab(t *testing.T) {
	t.Helper()
	p.do(t, chromedp.KeyEvent("\t"))
}

// screenshot writes a full-page PNG of the current page to the screenshot
// directory and returns its path.
func (p *person) screenshot(t *testing.T, name string) string {
	t.Helper()
	return p.saveScreenshot(t, name, chromedp.FullScreenshot(100)) // quality 100 = PNG
}

// viewportScreenshot is screenshot of the visible part only: cheaper, for
// the variants (dark scheme, narrow screen).
func (p *person) viewportScreenshot(t *testing.T, name string) string {
	t.Helper()
	return p.saveScreenshot(t, name, chromedp.CaptureScreenshot())
}

func (p *person) saveScreenshot(t *testing.T, name string, shot chromedp.Action[[]byte]) string {
	t.Helper()
	png, err := chromedp.Run(p.ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := screenshotDir(t)
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	return path
}

// screenshotDir is $KEYSHIFT_SCREENSHOTS, else .screenshots/ at the root of
// the repository (ignored by git).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KEYSHIFT_SCREENSHOTS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod above the test directory")
		}
		dir = parent
	}
}

// token gets a client-credentials token from the server's token endpoint
// with a plain Go HTTP client, as an integration would.
func (k *keyshift) token(t *testing.T, clientID, secret string) *oauth2.Token {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: k.base + "/oauth2/token"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("token for client %s: %v", clientID, err)
	}
	return tok
}

// adminGet calls the admin HTTP API as the operator and decodes the answer.
func (k *keyshift) adminGet(t *testing.T, path string, out any) {
	t.Helper()
	tok := k.token(t, k.operator.ClientID, k.operator.ClientSecret)
	req, err := http.NewRequest(http.MethodGet, k.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", path, err, body)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
