package safehttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"93.184.216.34", true}, {"2606:4700::1111", true}, {"8.8.8.8", true},
		// loopback
		{"127.0.0.1", false}, {"127.1.2.3", false}, {"::1", false}, {"::ffff:127.0.0.1", false},
		// private (RFC 1918, RFC 4193) and shared (RFC 6598)
		{"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false}, {"::ffff:10.0.0.1", false},
		{"fc00::1", false}, {"100.64.0.1", false}, {"100.127.255.254", false},
		// link-local, where cloud metadata services answer
		{"169.254.169.254", false}, {"::ffff:169.254.169.254", false}, {"fe80::1", false},
		{"fd00:ec2::254", false},
		// unspecified, multicast, broadcast
		{"0.0.0.0", false}, {"::", false}, {"224.0.0.1", false}, {"ff02::1", false}, {"255.255.255.255", false},
	} {
		if got := PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.want)
		}
		if got := checkDial(context.Background(), "tcp", net.JoinHostPort(tt.addr, "443"), nil) == nil; got != tt.want {
			t.Errorf("checkDial(%s) allowed = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if PublicAddr(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestCheckDial_Unparsable_Refused(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"", "example.com:443", "127.0.0.1", "[::1]"} {
		if err := checkDial(context.Background(), "tcp", a, nil); !errors.Is(err, ErrNotPublic) {
			t.Errorf("checkDial(%q) = %v, want ErrNotPublic", a, err)
		}
	}
}

// counting is a server on loopback that counts the requests it gets.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

func TestClient_NonPublicAddress_RefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	ts, hits := counting(t, nil)
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	c := NewClient(Config{Timeout: 2 * time.Second})
	for _, tt := range []struct{ name, host string }{
		{"loopback literal", "127.0.0.1"},
		{"IPv6 loopback literal", "[::1]"},
		// The URL names a host, not an address: the check runs on what
		// the name resolves to when dialling, which is what defeats DNS
		// rebinding (a name that was public when an admin registered it).
		{"name resolving to loopback", "localhost"},
		{"metadata address", "169.254.169.254"},
		{"private address", "10.0.0.1"},
		{"unspecified address", "0.0.0.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := url.URL{Scheme: "http", Host: tt.host + ":" + strconv.Itoa(port), Path: "/"}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s: status %d, want refused", u.String(), resp.StatusCode)
			}
			if !errors.Is(err, ErrNotPublic) {
				t.Errorf("GET %s: %v, want ErrNotPublic", u.String(), err)
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("the loopback server got %d requests", n)
		}
	})
}

func TestClient_Redirect_NotFollowed(t *testing.T) {
	t.Parallel()
	// AllowPrivate, since the test servers are on loopback: the redirect
	// rule holds whatever the address check says.
	target, hits := counting(t, nil)
	for _, tt := range []struct{ name, location string }{
		{"to a loopback server", target.URL + "/latest/meta-data/"},
		{"to the metadata address", "http://169.254.169.254/latest/meta-data/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			from, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tt.location, http.StatusFound)
			})
			resp, err := NewClient(Config{Timeout: 2 * time.Second, AllowPrivate: true}).Get(from.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tt.location {
				t.Errorf("status %d, Location %q; want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("the redirect target got %d requests", n)
		}
	})
}

func TestClient_AllowPrivate_Connects(t *testing.T) {
	t.Parallel()
	ts, hits := counting(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	resp, err := NewClient(Config{Timeout: 2 * time.Second, AllowPrivate: true}).Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Errorf("status %d after %d requests; want 200 after 1", resp.StatusCode, hits.Load())
	}
}

func TestClient_NoProxy(t *testing.T) {
	t.Parallel()
	// With a proxy, the address dialled, and so checked, would be the proxy's.
	for _, allow := range []bool{false, true} {
		tr := NewClient(Config{Timeout: time.Second, AllowPrivate: allow}).Transport.(*http.Transport)
		if tr.Proxy != nil {
			t.Errorf("AllowPrivate=%v: the transport has a proxy function", allow)
		}
	}
}

func TestClient_SlowServer_TimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ts, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	resp, err := NewClient(Config{Timeout: 200 * time.Millisecond, AllowPrivate: true}).Get(ts.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a server that never answers was answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v, want about the 200ms timeout", d)
	}
	if !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v, want a timeout", err)
	}
}
