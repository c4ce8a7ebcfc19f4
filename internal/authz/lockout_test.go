package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/redact"
	"github.com/keyshift/keyshift/internal/store"
)

// TestToken_PublicClientXOAuth2AutoDetect_NoFailureCounted: x/oauth2's
// auto-detection first sends a public client's id in Basic with an empty
// secret. That identifies a public client; it is no failure, so a CLI that
// runs N times (a fresh oauth2.Config each run) is never throttled.
func TestToken_PublicClientXOAuth2AutoDetect_NoFailureCounted(t *testing.T) {
	e := newOIDCEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 3, rate.Every(time.Hour) })
	const redirect = "http://127.0.0.1:9/cb"
	c := e.webClient("acme", redirect, func(c *store.Client) { c.AuthMethod, c.Secrets = oauth.AuthNone, nil })
	b := newBrowser(t, e.ts.URL)
	ctx := context.WithValue(e.ctx, oauth2.HTTPClient, e.ts.Client())
	for i := range 8 {
		p := newPKCE()
		code := e.codeFor(b, authParams(c.ID, redirect, "core.invoice.read", p), "alice", alicePassword)
		conf := &oauth2.Config{ClientID: c.ID, RedirectURL: redirect,
			Endpoint: oauth2.Endpoint{AuthURL: e.ts.URL + oauth.PathAuthorize, TokenURL: e.ts.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleAutoDetect}}
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(p.verifier))
		if err != nil || tok.AccessToken == "" {
			t.Fatalf("exchange %d: %v", i, err)
		}
	}
	if n := e.srv.addrLimiter.size() + e.srv.clientLimiter.size(); n != 0 {
		t.Fatalf("%d failure buckets after public-client exchanges; want none", n)
	}
	if got := counter(t, e, "keyshift_client_auth_throttled_total", "token"); got != 0 {
		t.Fatalf("%v throttled", got)
	}
	// An empty Basic secret is still wrong for a confidential client.
	conf := e.client("acme", []string{"core.invoice.read"})
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+oauth.PathToken, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basicOf(conf.ID, ""))
	if r := e.do(req); r.status != http.StatusUnauthorized {
		t.Fatalf("confidential client with an empty secret: %d %s", r.status, r.body)
	}
}

// inProcess serves req as the console's in-process transport does.
func (e *env) inProcess(path string, c testClient, vals url.Values) int {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(vals.Encode()))
	req = req.WithContext(clientip.WithInProcess(req.Context()))
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basicOf(c.ID, c.Secret))
	mux := http.NewServeMux()
	e.srv.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Code
}

// TestInProcessCalls_AreNoAddress: the console's in-process calls (its
// credentials test, its code redemption) neither drain the bucket of
// loopback, where operators sign in, nor are throttled by remote callers
// on loopback.
func TestInProcessCalls_AreNoAddress(t *testing.T) {
	e := newOIDCEnv(t, func(c *Config) { c.FailureBurst, c.FailureRate = 3, rate.Every(time.Hour) })
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	good := e.client("acme", []string{"core.invoice.read"})
	// A tenant admin tests wrong credentials in the console, many times
	// and for many client ids.
	for i := range 10 {
		wrong := testClient{ID: fmt.Sprintf("ksc_typo%d", i), Secret: credential.New(credential.PrefixClientSecret)}
		if got := e.inProcess(oauth.PathToken, wrong, grant); got != http.StatusUnauthorized {
			t.Fatalf("in-process failure %d: %d; want 401", i, got)
		}
	}
	// An operator still signs in from loopback.
	b := newBrowserFrom(t, e.ts.URL, "127.0.0.1")
	p := newPKCE()
	web := e.webClient("acme", "http://127.0.0.1:9/cb")
	if code := e.codeFor(b, authParams(web.ID, "http://127.0.0.1:9/cb", "core.invoice.read", p), "alice", alicePassword); code == "" {
		t.Fatal("no code")
	}
	// Remote failures on loopback do not throttle in-process calls.
	for range 5 {
		wrong := testClient{ID: "ksc_attacker", Secret: credential.New(credential.PrefixClientSecret)}
		e.postFrom("127.0.0.1", oauth.PathToken, &wrong, grant)
	}
	wrong := testClient{ID: "ksc_another", Secret: credential.New(credential.PrefixClientSecret)}
	if got := e.inProcess(oauth.PathToken, wrong, grant); got != http.StatusUnauthorized {
		t.Fatalf("in-process failure after remote attacks on loopback: %d; want 401", got)
	}
	if got := e.inProcess(oauth.PathToken, good, grant); got != http.StatusOK {
		t.Fatalf("in-process right secret: %d", got)
	}
}

// TestLogs_NoCredentialFromAnyField sends credentials in every field a
// log line names (client_id, Basic, the login form) and finds none of
// them in the log.
func TestLogs_NoCredentialFromAnyField(t *testing.T) {
	var buf syncBuffer
	e := newOIDCEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.FailureBurst, c.FailureRate = 2, rate.Every(time.Hour)
	})
	good := e.client("acme", []string{"core.invoice.read"})
	key := credential.New(credential.PrefixAPIKey)
	legacy := "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	jwt := e.token(good, "")
	creds := []string{key, legacy, jwt, good.Secret, alicePassword, "hunter2-Passw0rd"}
	for _, cr := range creds {
		for range 3 {
			b := newBrowser(t, e.ts.URL)
			p := b.get(e.ts.URL + oauth.PathLogin + "?return=" + url.QueryEscape("/oauth2/authorize?client_id="+cr))
			if p.status == http.StatusOK {
				b.signIn(p, "acme", cr, cr)                      // a key typed into the login field
				b.signIn(b.get(p.url.String()), cr, "alice", cr) // and into the organisation field
			}
		}
	}
	grant := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	for i := range 3 { // through the limit, so "throttled" lines too
		for _, cr := range creds {
			e.postFrom(fmt.Sprintf("127.0.0.%d", 50+i), oauth.PathToken, &testClient{ID: cr, Secret: good.Secret}, grant)
			e.post(oauth.PathToken, nil, url.Values{"grant_type": {oauth.GrantClientCredentials}, "client_id": {cr}, "client_secret": {cr}})
			e.post(oauth.PathIntrospect, nil, url.Values{"client_id": {cr}, "token": {jwt}})
			e.post(oauth.PathDeviceAuthorization, nil, url.Values{"client_id": {cr}})
			e.post(oauth.PathRevoke, &testClient{ID: cr, Secret: ""}, url.Values{"token": {cr}})
		}
	}
	out := buf.String()
	if !strings.Contains(out, "client authentication failed") || !strings.Contains(out, "sign-in failed") || !strings.Contains(out, "throttled") {
		t.Fatalf("the run did not log what it should test:\n%.2000s", out)
	}
	for _, cr := range creds {
		for _, form := range []string{cr, url.QueryEscape(cr), base64.StdEncoding.EncodeToString([]byte(cr))} {
			if strings.Contains(out, form) {
				i := strings.Index(out, form)
				t.Errorf("credential %.12s… in the log: …%s…", cr, out[max(0, i-200):i])
			}
		}
	}
	// Lines stay JSON and still say what happened.
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
	}
	if !strings.Contains(out, redact.ClientID(key)) {
		t.Error("a key sent as client_id is not described in the log")
	}
}
