package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// errNotPublic reports a tenant webhook resolving to an address inside the
// platform's network: following it would let a tenant probe that network
// (server-side request forgery).
var errNotPublic = errors.New("refusing to connect to a non-public address")

// cgnat is the shared address space of RFC 6598, not routable on the internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether ip is a public unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

// dialGuard refuses connections to non-public addresses. It runs after name
// resolution, on the address actually dialled, so DNS rebinding cannot
// bypass it.
func dialGuard(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errNotPublic, address)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNotPublic, ap.Addr())
	}
	return nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// httpClients returns the clients for tenants' and for the operator's
// webhooks. They are separate so that a pooled connection dialled for the
// operator (who may use an internal address) is never reused for a tenant.
func httpClients(cfg Config) (tenant, operator *http.Client) {
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		c.CheckRedirect = noRedirect
		return &c, &c
	}
	operator = &http.Client{Transport: newTransport(cfg, nil), CheckRedirect: noRedirect}
	if cfg.AllowPrivateNetworks {
		return operator, operator
	}
	return &http.Client{Transport: newTransport(cfg, dialGuard), CheckRedirect: noRedirect}, operator
}

// newTransport uses no proxy: the guard checks the address dialled, which
// with a proxy would be the proxy's.
func newTransport(cfg Config, guard func(context.Context, string, string, syscall.RawConn) error) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, ControlContext: guard}
	return &http.Transport{
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
}
