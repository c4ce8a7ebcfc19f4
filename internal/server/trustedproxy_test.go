package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// send posts or gets through hc with an X-Forwarded-For header.
func send(t *testing.T, hc *http.Client, method, u, xff string, hdr map[string]string, body string) int {
	t.Helper()
	r, _ := http.NewRequest(method, u, strings.NewReader(body))
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestTrustedProxies_ClientAddressEverywhere: behind a trusted proxy, the
// client it names is the address of rate limits, audit entries and key
// usage; from any other peer the header is ignored.
func TestTrustedProxies_ClientAddressEverywhere(t *testing.T) {
	hs := startHostileServer(t, "", func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	proxy := fromAddr("127.0.0.1")   // trusted
	direct := fromAddr("127.0.0.77") // not trusted
	tokenURL := hs.base + "/oauth2/token"
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	wrong := "grant_type=client_credentials&client_id=" + url.QueryEscape(hs.demo.ClientID) + "&client_secret=" + credential.New(credential.PrefixClientSecret)

	// Failures of one forwarded client throttle its failures only: the
	// proxy's other clients are separate addresses.
	status := 0
	for range 12 {
		status = send(t, proxy, "POST", tokenURL, "198.51.100.7", form, strings.Replace(wrong, "ksc_", "ksc_x", 1))
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("12th failure of 198.51.100.7: %d; want 429", status)
	}
	if s := send(t, proxy, "POST", tokenURL, "198.51.100.8", form, strings.Replace(wrong, "ksc_", "ksc_x", 1)); s != http.StatusUnauthorized {
		t.Fatalf("another client behind the proxy: %d; want 401", s)
	}
	// The header of an untrusted peer is not believed: its failures are its own.
	for range 12 {
		send(t, direct, "POST", tokenURL, "198.51.100.9", form, strings.Replace(wrong, "ksc_", "ksc_y", 1))
	}
	if s := send(t, proxy, "POST", tokenURL, "198.51.100.9", form, strings.Replace(wrong, "ksc_", "ksc_x", 1)); s != http.StatusUnauthorized {
		t.Fatalf("198.51.100.9 via the proxy after a direct peer claimed it: %d; want 401", s)
	}

	// Audit entries record the forwarded client.
	opTok, err := (&clientcredentials.Config{ClientID: hs.op.ClientID, ClientSecret: hs.op.ClientSecret, TokenURL: tokenURL,
		Scopes: []string{"keyshift:admin"}}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	asOp := map[string]string{"Authorization": "Bearer " + opTok.AccessToken, "Content-Type": "application/json"}
	for i, c := range []struct {
		hc          *http.Client
		xff, wantIP string
	}{{proxy, "203.0.113.5", "203.0.113.5"}, {direct, "203.0.113.6", "127.0.0.77"}} {
		id := fmt.Sprintf("proxytest%d", i)
		if s := send(t, c.hc, "POST", hs.base+"/admin/v1/tenants", c.xff, asOp, `{"id":"`+id+`","name":"P"}`); s != http.StatusCreated {
			t.Fatalf("create tenant: %d", s)
		}
		ev, err := hs.st.ListAudit(context.Background(), store.AuditFilter{ObjectID: id, Limit: 1})
		if err != nil || len(ev) != 1 || ev[0].RemoteAddr != c.wantIP {
			t.Fatalf("audit of a write with X-Forwarded-For %s: %+v %v; want address %s", c.xff, ev, err, c.wantIP)
		}
	}

	// Key usage records the forwarded client as the key's last address.
	if s := send(t, proxy, "GET", hs.base+"/api/invoices", "192.0.2.44", map[string]string{"X-API-Key": hs.demo.Key}, ""); s != http.StatusOK {
		t.Fatalf("gateway with the demo key: %d", s)
	}
	if err := hs.srv.Keys.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := hs.st.ListUsage(context.Background(), store.UsageFilter{KeyID: hs.demo.KeyID, Since: time.Now().AddDate(0, 0, -1)})
	if err != nil || len(rows) == 0 || rows[len(rows)-1].LastIP != "192.0.2.44" {
		t.Fatalf("usage of the demo key: %+v %v; want last IP 192.0.2.44", rows, err)
	}
}
