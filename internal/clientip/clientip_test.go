package clientip

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func mustTrusted(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrusted(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type resolveCase struct {
	name    string
	trusted string
	peer    string
	fwd     []string
	xff     []string
	want    string
}

var resolveCases = []resolveCase{
	{name: "no proxy trusted: peer, headers ignored", peer: "203.0.113.9:4000", xff: []string{"198.51.100.1"}, fwd: []string{"for=198.51.100.2"}, want: "203.0.113.9"},
	{name: "loopback not trusted by default", peer: "127.0.0.1:4000", xff: []string{"198.51.100.1"}, want: "127.0.0.1"},
	{name: "untrusted peer behind trusted range", trusted: "10.0.0.0/8", peer: "203.0.113.9:1", xff: []string{"198.51.100.1"}, want: "203.0.113.9"},
	{name: "trusted peer, no header", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", want: "10.1.1.1"},
	{name: "xff one hop", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
	{name: "xff spoofed left part ignored", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"1.2.3.4, 198.51.100.1"}, want: "198.51.100.1"},
	{name: "xff trusted hops skipped", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"1.2.3.4, 198.51.100.1, 10.2.2.2"}, want: "198.51.100.1"},
	{name: "xff several header lines", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"1.2.3.4", "198.51.100.1"}, want: "198.51.100.1"},
	{name: "xff ipv6 bare", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
	{name: "xff ipv6 bracketed with port", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
	{name: "xff ipv4 with port", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"198.51.100.1:5555"}, want: "198.51.100.1"},
	{name: "xff all trusted: leftmost", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"10.3.3.3, 10.2.2.2"}, want: "10.3.3.3"},
	{name: "xff malformed: peer", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"198.51.100.1, not-an-ip"}, want: "10.1.1.1"},
	{name: "xff empty entry: peer", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"198.51.100.1,,"}, want: "10.1.1.1"},
	{name: "xff unknown hop: last trusted", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"unknown, 10.2.2.2"}, want: "10.2.2.2"},
	{name: "xff zone refused", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", xff: []string{"fe80::1%eth0"}, want: "10.1.1.1"},
	{name: "trusted ipv6 peer", trusted: "2001:db8:ffff::/48", peer: "[2001:db8:ffff::5]:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
	{name: "trusted single address", trusted: "10.1.1.1", peer: "10.1.1.1:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
	{name: "v4-mapped peer", trusted: "10.0.0.0/8", peer: "[::ffff:10.1.1.1]:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
	{name: "forwarded one hop", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=198.51.100.1;proto=https"}, want: "198.51.100.1"},
	{name: "forwarded quoted ipv6 with port", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{`for="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
	{name: "forwarded case-insensitive name", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"For=198.51.100.1"}, want: "198.51.100.1"},
	{name: "forwarded chain, trusted skipped", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{`for=1.2.3.4, for=198.51.100.1;by=10.2.2.2, for="10.2.2.2"`}, want: "198.51.100.1"},
	{name: "forwarded obfuscated: last trusted", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=_hidden, for=10.2.2.2"}, want: "10.2.2.2"},
	{name: "forwarded unknown: peer", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=unknown"}, want: "10.1.1.1"},
	{name: "forwarded element without for: peer", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"proto=https"}, want: "10.1.1.1"},
	{name: "forwarded obfuscated port", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{`for="198.51.100.1:_p1"`}, want: "198.51.100.1"},
	{name: "forwarded unquoted ipv6 malformed", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=[2001:db8::1]"}, want: "10.1.1.1"},
	{name: "forwarded unterminated quote", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{`for="198.51.100.1`}, want: "10.1.1.1"},
	{name: "forwarded for twice", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=1.2.3.4;for=198.51.100.1"}, want: "10.1.1.1"},
	{name: "forwarded quoted comma inside", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{`for=198.51.100.1;ext="a,b"`}, want: "198.51.100.1"},
	{name: "forwarded trailing comma", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=198.51.100.1,"}, want: "10.1.1.1"},
	{name: "forwarded garbage", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"<script>"}, want: "10.1.1.1"},
	{name: "both headers agree", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=198.51.100.1"}, xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
	{name: "both headers disagree: peer", trusted: "10.0.0.0/8", peer: "10.1.1.1:1", fwd: []string{"for=1.2.3.4"}, xff: []string{"198.51.100.1"}, want: "10.1.1.1"},
	{name: "peer not an address", trusted: "10.0.0.0/8", peer: "pipe", xff: []string{"198.51.100.1"}, want: "pipe"},
}

func TestResolve(t *testing.T) {
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.fwd {
				r.Header.Add("Forwarded", v)
			}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := New(mustTrusted(t, tc.trusted)).Resolve(r); got != tc.want {
				t.Fatalf("Resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrusted(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0.1/8/2", "::1/129"} {
		if _, err := ParseTrusted(bad); err == nil {
			t.Errorf("ParseTrusted(%q) accepted", bad)
		}
	}
	p := mustTrusted(t, " 10.0.0.0/8 , ::1, 192.168.1.7/24 ,")
	if len(p) != 3 || p[2].String() != "192.168.1.0/24" || p[1].String() != "::1/128" {
		t.Fatalf("ParseTrusted = %v", p)
	}
}

func TestMiddlewareAndFrom(t *testing.T) {
	rs := New(mustTrusted(t, "127.0.0.0/8"))
	var got, key string
	h := rs.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, key = From(r), LimitKey(r) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:9"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "198.51.100.7" || key != got {
		t.Fatalf("From = %q, LimitKey = %q", got, key)
	}
	// An in-process request is no address, whatever it claims.
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(WithInProcess(context.Background())))
	if got != InProcessAddr || key != "" {
		t.Fatalf("in process: From = %q, LimitKey = %q", got, key)
	}
	// Without the middleware: the peer.
	if a := From(r); a != "127.0.0.1" {
		t.Fatalf("From without middleware = %q", a)
	}
}

func FuzzResolve(f *testing.F) {
	for _, tc := range resolveCases {
		fwd, xff := "", ""
		if len(tc.fwd) > 0 {
			fwd = tc.fwd[0]
		}
		if len(tc.xff) > 0 {
			xff = tc.xff[0]
		}
		f.Add(tc.peer, fwd, xff)
	}
	rs := New(mustTrusted(f, "10.0.0.0/8, 2001:db8::/32"))
	f.Fuzz(func(t *testing.T, peer, fwd, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		got := rs.Resolve(r)
		if _, ok := peerAddr(peer); !ok {
			return
		}
		// Whatever the headers say, the answer is an address.
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("Resolve(%q, %q, %q) = %q, not an address", peer, fwd, xff, got)
		}
	})
}
