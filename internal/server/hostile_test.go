package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/authz/authztest"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// hostileServer is a keyshift with the demo data and the demo API behind
// its gateway, logging JSON into a buffer.
type hostileServer struct {
	base string
	st   store.Store
	logs *lockedBuffer
	demo demo.Result
	op   *OperatorCredentials
	srv  *Server
}

func startHostileServer(t *testing.T, dsn string, mod ...func(*Config)) *hostileServer {
	t.Helper()
	logs := &lockedBuffer{}
	var res demo.Result
	ts := startServer(t, testServerOptions{
		db:      dsn,
		logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		gateway: true,
		seed: func(ctx context.Context, st store.Store) {
			var err error
			if res, err = demo.Seed(ctx, admin.New(st, nil, nil, admin.Config{}), st, time.Now()); err != nil {
				t.Fatalf("seed: %v", err)
			}
		},
		config: func(cfg *Config) {
			for _, m := range mod {
				m(cfg)
			}
		},
	})
	base, st, op, srv := ts.base, ts.st, ts.op, ts.srv
	for deadline := time.Now().Add(5 * time.Second); !srv.Authz.ClientActive(res.ClientID); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("demo client never reached the token endpoint's cache")
		}
	}
	return &hostileServer{base: base, st: st, logs: logs, demo: res, op: op, srv: srv}
}

// fromAddr is an HTTP client whose connections come from ip (Linux routes
// all of 127.0.0.0/8 to the loopback interface). It follows no redirects.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// snapshot is what refused requests must leave unchanged.
func snapshot(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := context.Background()
	var out struct {
		Tenants  []store.Tenant
		Clients  []store.Client
		Scopes   []store.Scope
		Revoked  []store.Revocation
		Audit    []store.AuditEvent
		Users    []store.User
		Keys     []store.APIKey
		TenantsN int
	}
	var err error
	if out.Tenants, err = st.ListTenants(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tn := range out.Tenants {
		cs, err := st.ListClients(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		us, err := st.ListUsers(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		out.Clients, out.Users = append(out.Clients, cs...), append(out.Users, us...)
	}
	if out.Scopes, err = st.ListScopes(ctx); err != nil {
		t.Fatal(err)
	}
	if out.Revoked, err = st.ListRevocations(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if out.Audit, err = st.ListAudit(ctx, store.AuditFilter{Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	if out.Keys, err = st.ListAPIKeys(ctx, store.APIKeyFilter{}); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostileReq is one request of the hostile run.
type hostileReq struct {
	family, method, path, body, ctype string
	header                            map[string]string
}

func TestHostile_ThousandsOfMalformedRequestsFromManyAddresses(t *testing.T) {
	runHostile(t, startHostileServer(t, ""))
}

func TestHostile_OnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	runHostile(t, startHostileServer(t, dsn+"&search_path="+pgtest.NewSchema(t, dsn)))
}

func runHostile(t *testing.T, hs *hostileServer) {
	ctx := context.Background()
	opTok, err := (&clientcredentials.Config{ClientID: hs.op.ClientID, ClientSecret: hs.op.ClientSecret, TokenURL: hs.base + "/oauth2/token",
		Scopes: []string{"keyshift:admin"}}).Token(ctx)
	if err != nil {
		t.Fatalf("operator token: %v", err)
	}
	demoTok, err := (&clientcredentials.Config{ClientID: hs.demo.ClientID, ClientSecret: hs.demo.ClientSecret, TokenURL: hs.base + "/oauth2/token"}).Token(ctx)
	if err != nil {
		t.Fatalf("demo token: %v", err)
	}
	// An imported legacy key of arbitrary format, used below as a hostile
	// value like every other credential of the run.
	legacy := "sk_live_" + strings.ReplaceAll(rand.Text(), "=", "") + "Xy9"
	req, _ := http.NewRequest(http.MethodPost, hs.base+"/admin/v1/tenants/"+hs.demo.Tenant+"/keys/import",
		strings.NewReader(`{"key":"`+legacy+`","name":"ERP","permissions":["invoices:read"]}`+"\n"))
	req.Header.Set("Authorization", "Bearer "+opTok.AccessToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("import legacy key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	assertion := signedAssertion(t, hs.demo.ClientID, hs.base+"/oauth2/token")
	creds := []string{hs.op.ClientSecret, hs.demo.ClientSecret, hs.demo.Key, legacy, opTok.AccessToken, demoTok.AccessToken, assertion,
		credential.New(credential.PrefixAPIKey), credential.New(credential.PrefixClientSecret)}
	for _, u := range demo.DemoUsers {
		creds = append(creds, u.Password)
	}
	reqs := hostileRequests(hs, creds)
	// Start-up work (signing keys of every algorithm, bootstrap) writes in
	// the background; wait until the store is quiet.
	before := snapshot(t, hs.st)
	for deadline := time.Now().Add(20 * time.Second); ; {
		time.Sleep(300 * time.Millisecond)
		again := snapshot(t, hs.st)
		if again == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the store never settled before the run")
		}
		before = again
	}

	// Send them from 199 loopback addresses, a few at a time.
	const addrs = 199
	clients := make([]*http.Client, addrs)
	for i := range clients {
		clients[i] = fromAddr(fmt.Sprintf("127.0.0.%d", i+2))
	}
	var (
		mu       sync.Mutex
		fivexx   []string
		written  []string
		statuses = map[string]map[int]int{}
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				hr := reqs[i]
				r, err := http.NewRequest(hr.method, hs.base+hr.path, strings.NewReader(hr.body))
				if err != nil {
					t.Errorf("build %s %q: %v", hr.method, hr.path, err)
					continue
				}
				if hr.ctype != "" {
					r.Header.Set("Content-Type", hr.ctype)
				}
				for k, v := range hr.header {
					r.Header.Set(k, v)
				}
				resp, err := clients[i%addrs].Do(r)
				if err != nil {
					t.Errorf("%s %s %.80q: %v", hr.method, hr.path, hr.body, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if statuses[hr.family] == nil {
					statuses[hr.family] = map[int]int{}
				}
				statuses[hr.family][resp.StatusCode]++
				if resp.StatusCode < 300 && hr.method != http.MethodGet {
					written = append(written, fmt.Sprintf("%d %s %s %.120q", resp.StatusCode, hr.method, hr.path, hr.body))
				}
				if resp.StatusCode >= 500 {
					fivexx = append(fivexx, fmt.Sprintf("%d %s %s %.120q", resp.StatusCode, hr.method, hr.path, hr.body))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Sign-ins through the real form (with its CSRF cookie): every
	// credential typed into the login and the organisation fields.
	for i, c := range creds {
		b := authztest.NewBrowserFrom(t, hs.base, fmt.Sprintf("127.0.0.%d", 2+i%addrs))
		p := b.Get(hs.base + "/oauth2/login?return=%2Fconsole%2F")
		b.SignIn(p, "acme", c, c)
		b.SignIn(b.Get(hs.base+"/oauth2/login?return=%2Fconsole%2F"), c, "alice", c)
	}
	t.Logf("%d hostile requests from %d addresses in %v: %v", len(reqs), addrs, time.Since(start).Round(time.Millisecond), statuses)
	for _, f := range fivexx {
		t.Errorf("5xx: %s", f)
	}
	for _, w := range written {
		t.Errorf("a hostile write was accepted: %s", w)
	}

	// Nothing written by refused requests (audit, clients, keys, users, …).
	if after := snapshot(t, hs.st); after != before {
		b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
		i := 0
		for i < len(b) && i < len(a) && a[i] == b[i] {
			i++
		}
		t.Errorf("refused requests changed the store at line %d:\nbefore …%s\nafter  …%s", i,
			strings.Join(b[max(0, i-15):min(len(b), i+5)], "\n"), strings.Join(a[max(0, i-15):min(len(a), i+5)], "\n"))
	}

	// The right credentials still work from every address that attacked.
	for i, hc := range clients {
		form := url.Values{"grant_type": {"client_credentials"}}
		r, _ := http.NewRequest(http.MethodPost, hs.base+"/oauth2/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(url.QueryEscape(hs.demo.ClientID), url.QueryEscape(hs.demo.ClientSecret))
		resp, err := hc.Do(r)
		if err != nil {
			t.Fatalf("token from 127.0.0.%d: %v", i+2, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("right secret from attacking address 127.0.0.%d: %d %s", i+2, resp.StatusCode, body)
		}
	}

	// No credential of the run in the log, in any encoding it was sent in.
	logs := hs.logs.String()
	for _, want := range []string{"client authentication failed", "client authentication throttled", "sign-in failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the run logged no %q line; the log check below would prove nothing", want)
		}
	}
	for _, c := range creds {
		for _, form := range []string{c, url.QueryEscape(c), base64.StdEncoding.EncodeToString([]byte(c)), c[:min(len(c), 24)]} {
			if i := strings.Index(logs, form); i >= 0 {
				t.Errorf("credential %.10s… in the log: …%s…", c, logs[max(0, i-160):min(len(logs), i+40)])
			}
		}
	}
}

// signedAssertion is a private_key_jwt assertion for clientID signed by a
// key the client does not have.
func signedAssertion(t *testing.T, clientID, aud string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": rand.Text(),
		"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()})
	jws, err := sig.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hostileRequests builds the run: every endpoint family, each credential
// of the run in every field that could be logged, and malformed framing.
func hostileRequests(hs *hostileServer, creds []string) []hostileReq {
	const form = "application/x-www-form-urlencoded"
	id := hs.demo.ClientID
	basic := func(u, p string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(u)+":"+url.QueryEscape(p)))}
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	junk := []string{"", "%zz", "\x00", strings.Repeat("A", 5000), "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "é\xff\xfe", "{\"a\":", "a=b&a=c", "%00%0d%0aSet-Cookie:x=1"}
	var out []hostileReq
	add := func(r hostileReq) { out = append(out, r) }
	for round := 0; len(out) < 3000; round++ {
		c := creds[round%len(creds)]
		j := junk[round%len(junk)]
		qc, qj := url.QueryEscape(c), url.QueryEscape(j)
		// Token endpoint: wrong secrets, credentials as client ids, assertions.
		if c != hs.demo.ClientSecret {
			add(hostileReq{family: "token", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=client_credentials", header: basic(id, c)})
		}
		add(hostileReq{family: "token", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=client_credentials", header: basic(c, c)})
		add(hostileReq{family: "token", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=client_credentials&client_id=" + qc + "&client_secret=" + qc})
		add(hostileReq{family: "token", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=client_credentials&client_id=" + qc + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + qc})
		add(hostileReq{family: "token", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=" + qj + "&code=" + qc + "&refresh_token=" + qc, header: basic(id, c)})
		add(hostileReq{family: "token", method: "POST", path: "/oauth2/token", ctype: "application/json", body: `{"client_secret":"` + c + `"}`})
		add(hostileReq{family: "token", method: "GET", path: "/oauth2/token?client_secret=" + qc})
		// Introspection and revocation.
		add(hostileReq{family: "introspect", method: "POST", path: "/oauth2/introspect", ctype: form, body: "token=" + qc + "&token_type_hint=api_key", header: basic(c, c)})
		add(hostileReq{family: "introspect", method: "POST", path: "/oauth2/introspect", ctype: form, body: "token=" + qj + "&client_id=" + qc})
		add(hostileReq{family: "revoke", method: "POST", path: "/oauth2/revoke", ctype: form, body: "token=" + qc, header: basic(c, "")})
		add(hostileReq{family: "revoke", method: "POST", path: "/oauth2/revoke", ctype: form, body: "token=" + qc + "&client_id=" + qc})
		// Authorization, consent, login, device pages.
		add(hostileReq{family: "authorize", method: "GET", path: "/oauth2/authorize?response_type=code&client_id=" + qc + "&redirect_uri=" + qj + "&state=" + qc})
		add(hostileReq{family: "consent", method: "POST", path: "/oauth2/consent", ctype: form, body: "csrf=" + qc + "&decision=approve&request=" + qj})
		if round%6 == 0 { // password hashing is slow on purpose; fewer of these
			add(hostileReq{family: "login", method: "POST", path: "/oauth2/login", ctype: form, body: "tenant=acme&login=" + qc + "&password=" + qc + "&return=%2Foauth2%2Fauthorize"})
			add(hostileReq{family: "login", method: "POST", path: "/oauth2/login", ctype: form, body: "tenant=" + qc + "&login=alice&password=" + qc + "&return=%2Fconsole%2F"})
		}
		add(hostileReq{family: "login", method: "GET", path: "/oauth2/login?return=" + qj + "&login_hint=" + qc})
		add(hostileReq{family: "device", method: "POST", path: "/oauth2/device", ctype: form, body: "user_code=" + qc + "&csrf=" + qj})
		add(hostileReq{family: "device_authorization", method: "POST", path: "/oauth2/device_authorization", ctype: form, body: "client_id=" + qc + "&scope=" + qj})
		add(hostileReq{family: "device_authorization", method: "POST", path: "/oauth2/device_authorization", ctype: form, body: "scope=openid", header: basic(id, c)})
		// Userinfo and logout with bad tokens.
		add(hostileReq{family: "userinfo", method: "GET", path: "/oauth2/userinfo", header: bearer(c + "x")})
		add(hostileReq{family: "userinfo", method: "POST", path: "/oauth2/userinfo", ctype: form, body: "access_token=" + qj})
		add(hostileReq{family: "logout", method: "GET", path: "/oauth2/logout?id_token_hint=" + qc + "&post_logout_redirect_uri=" + qj + "&client_id=" + qc})
		// Discovery and JWKS with the wrong methods and odd queries.
		add(hostileReq{family: "discovery", method: "POST", path: "/.well-known/openid-configuration", ctype: form, body: qj})
		add(hostileReq{family: "discovery", method: "GET", path: "/.well-known/oauth-authorization-server?x=" + qj})
		add(hostileReq{family: "discovery", method: "DELETE", path: "/oauth2/jwks"})
		// Admin API: bad bearers, and the operator's token with bad bodies.
		add(hostileReq{family: "admin", method: "GET", path: "/admin/v1/tenants", header: bearer(c)})
		add(hostileReq{family: "admin", method: "POST", path: "/admin/v1/tenants", ctype: "application/json", body: `{"id":"x` + fmt.Sprint(round) + `"}`, header: bearer(c + "x")})
		add(hostileReq{family: "admin", method: "POST", path: "/admin/v1/tenants", ctype: "application/json", body: j, header: bearer(creds[4])})
		add(hostileReq{family: "admin", method: "POST", path: "/admin/v1/tenants/acme/clients", ctype: "application/json", body: `{"name":` + fmt.Sprintf("%q", j) + `,"grant_types":["` + c + `"]}`, header: bearer(creds[4])})
		add(hostileReq{family: "admin", method: "POST", path: "/admin/v1/tenants/acme/keys/import", ctype: "text/plain", body: `{"key":"` + c + `"}` + "\n", header: bearer(creds[4])})
		add(hostileReq{family: "admin", method: "PATCH", path: "/admin/v1/tenants/" + qc, ctype: "application/json", body: `{"status":"` + j + `"}`, header: bearer(creds[4])})
		// Console: no session, forged forms, a forged sign-in callback.
		add(hostileReq{family: "console", method: "GET", path: "/console/callback?code=" + qc + "&state=" + qj})
		add(hostileReq{family: "console", method: "POST", path: "/console/credentials/test", ctype: form, body: "client_id=" + qc + "&client_secret=" + qc + "&csrf=" + qj})
		add(hostileReq{family: "console", method: "GET", path: "/console/tenants/" + qc})
		// Gateway: bad keys and tokens.
		add(hostileReq{family: "gateway", method: "GET", path: "/api/invoices", header: map[string]string{"X-API-Key": c + "0"}})
		add(hostileReq{family: "gateway", method: "GET", path: "/api/invoices", header: bearer(c + "0")})
		add(hostileReq{family: "gateway", method: "POST", path: "/api/invoices?x=" + qj, ctype: "application/json", body: j, header: map[string]string{"X-API-Key": credential.New(credential.PrefixAPIKey)}})
	}
	return out
}
