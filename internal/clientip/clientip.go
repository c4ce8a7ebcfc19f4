// Package clientip decides which address a request comes from: the peer of
// the connection, or, when the peer is a trusted proxy, the client named by
// the proxy's Forwarded (RFC 7239) or X-Forwarded-For header. It is the one
// place that decides; rate limits, usage records, audit entries and logs
// all ask it.
//
// Requests that a keyshift component serves in process (the console's
// calls to the OAuth endpoints) come from no address at all: they are
// marked with InProcess and From reports them as such, so they never share
// a bucket with a remote caller.
package clientip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// InProcessAddr is what From returns for a request served in process.
const InProcessAddr = "in-process"

// maxHeaderLen bounds the forwarding headers parsed; longer is malformed.
const maxHeaderLen = 8 << 10

type ctxKey int

const (
	keyAddr ctxKey = iota
	keyInProcess
)

// ParseTrusted parses a comma-separated list of CIDRs or single addresses
// (the --trusted-proxies setting). Empty means no proxy is trusted.
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", f)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Resolver finds the client address of requests; the zero value trusts no
// proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver believing the forwarding headers of peers in
// trusted.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

func (rs *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range rs.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of r (without port).
func (rs *Resolver) Resolve(r *http.Request) string {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok {
		return hostOf(r.RemoteAddr)
	}
	if rs == nil || !rs.isTrusted(peer) {
		return peer.String()
	}
	fwd, xff := r.Header.Values("Forwarded"), r.Header.Values("X-Forwarded-For")
	var chain []hop
	var err error
	switch {
	case len(fwd) > 0 && len(xff) > 0:
		// A proxy appends to one header and passes the other through, so
		// one of them is the client's own claim. Believe them only when
		// they agree.
		c1, e1 := parseForwarded(fwd)
		c2, e2 := parseXFF(xff)
		a1, a2 := rs.walk(peer, c1), rs.walk(peer, c2)
		if e1 != nil || e2 != nil || a1 != a2 {
			return peer.String()
		}
		return a1.String()
	case len(fwd) > 0:
		chain, err = parseForwarded(fwd)
	case len(xff) > 0:
		chain, err = parseXFF(xff)
	default:
		return peer.String()
	}
	if err != nil {
		return peer.String()
	}
	return rs.walk(peer, chain).String()
}

// walk goes right to left through chain from the trusted peer, skipping
// trusted hops; the first untrusted hop is the client. A hop that hides
// its address (an obfuscated or unknown node) is answered by the last
// trusted hop's address, which is what vouched for it.
func (rs *Resolver) walk(peer netip.Addr, chain []hop) netip.Addr {
	last := peer
	for i := len(chain) - 1; i >= 0; i-- {
		h := chain[i]
		if !h.addr.IsValid() {
			return last
		}
		if !rs.isTrusted(h.addr) {
			return h.addr
		}
		last = h.addr
	}
	return last
}

// Middleware resolves the client address of every request once and keeps
// it in the request's context for From.
func (rs *Resolver) Middleware(next http.Handler) http.Handler {
	if rs == nil || len(rs.trusted) == 0 {
		// Nothing to resolve: the client is the peer, which From reads
		// itself; the token path then pays for no context or request copy.
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if InProcess(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), keyAddr, rs.Resolve(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// From returns the client address of r: the one Middleware resolved,
// InProcessAddr for an in-process request, else the peer's host.
func From(r *http.Request) string {
	ctx := r.Context()
	if InProcess(ctx) {
		return InProcessAddr
	}
	if a, ok := ctx.Value(keyAddr).(string); ok {
		return a
	}
	if a, ok := peerAddr(r.RemoteAddr); ok {
		return a.String()
	}
	return hostOf(r.RemoteAddr)
}

// LimitKey is the key of r's address in per-address limits: its client
// address, or "" (limit nothing) for an in-process request, which is no
// address and must not share a bucket with anyone.
func LimitKey(r *http.Request) string {
	if InProcess(r.Context()) {
		return ""
	}
	return From(r)
}

// WithInProcess marks ctx as the context of a request served in process.
func WithInProcess(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyInProcess, true)
}

// InProcess reports whether ctx is that of an in-process request.
func InProcess(ctx context.Context) bool {
	v, _ := ctx.Value(keyInProcess).(bool)
	return v
}

func peerAddr(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	a, err := netip.ParseAddr(remote)
	if err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func hostOf(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// hop is one entry of a forwarding chain; an invalid addr is a node that
// hides its address.
type hop struct{ addr netip.Addr }

var errMalformed = errors.New("malformed forwarding header")

// parseXFF parses X-Forwarded-For: comma-separated addresses, optionally
// bracketed or with a port. "unknown" is a hidden node.
func parseXFF(values []string) ([]hop, error) {
	joined := strings.Join(values, ",")
	if len(joined) > maxHeaderLen {
		return nil, errMalformed
	}
	var out []hop
	for _, f := range strings.Split(joined, ",") {
		f = strings.TrimSpace(f)
		if strings.EqualFold(f, "unknown") {
			out = append(out, hop{})
			continue
		}
		a, ok := parseNode(f, true)
		if !ok {
			return nil, errMalformed
		}
		out = append(out, hop{a})
	}
	return out, nil
}

// parseNode parses an address with optional port: 192.0.2.1,
// 192.0.2.1:80, [2001:db8::1], [2001:db8::1]:80, and, when bare6 is set,
// an unbracketed IPv6 address (X-Forwarded-For's usual form).
func parseNode(s string, bare6 bool) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		rest := s[end+1:]
		if rest != "" && !validPort(rest) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" && (a.Is4() || bare6) {
		return a.Unmap(), true
	}
	host, port, ok := strings.Cut(s, ":")
	if !ok || !validPort(":"+port) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// validPort accepts ":" followed by a port number or an obfuscated port
// (RFC 7239 §6.3).
func validPort(s string) bool {
	p, ok := strings.CutPrefix(s, ":")
	if !ok || p == "" || len(p) > 16 {
		return false
	}
	if p[0] == '_' {
		return obfuscated(p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return len(p) <= 5
}

// obfuscated reports whether s is an obfuscated identifier:
// "_" 1*(ALPHA / DIGIT / "." / "_" / "-").
func obfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
