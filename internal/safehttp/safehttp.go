// Package safehttp provides the HTTP client keyshift uses for every outbound
// call to a URL a tenant controls: the jwks_uri of private_key_jwt clients and
// tenants' webhooks. Such a URL must not let a tenant reach the platform's own
// network (server-side request forgery), so the client
//   - refuses to connect to loopback, private (RFC 1918, RFC 4193), shared
//     (RFC 6598), link-local (which holds cloud metadata endpoints such as
//     169.254.169.254), multicast and unspecified addresses; the check runs
//     on the address actually dialled, after name resolution, so a name that
//     resolves to a public address when validated and to a private one when
//     used (DNS rebinding) is refused all the same;
//   - uses no proxy, since with one the address dialled would be the proxy's;
//   - never follows a redirect, which could lead anywhere: the registered URL
//     is the one an admin checked.
package safehttp

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

// ErrNotPublic is the error of a connection refused because its address is
// not a public one.
var ErrNotPublic = errors.New("refusing to connect to a non-public address")

// cgnat is the shared address space of RFC 6598, not routable on the internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Step limits that do not depend on the caller: a server that cannot be
// reached or cannot finish a handshake in this long is treated as down.
const (
	dialTimeout      = 5 * time.Second
	handshakeTimeout = 5 * time.Second
	maxHeaderBytes   = 64 << 10
)

// Config configures a client.
type Config struct {
	// Timeout bounds one request, from dialling to the last byte of the
	// body read, and the wait for the response header. Required.
	Timeout time.Duration
	// AllowPrivate lifts the address check (the redirect and proxy rules
	// stay): for tests, single-network deployments and the operator's own
	// URLs, which may point inside the platform.
	AllowPrivate bool
	// MaxIdleConnsPerHost bounds the pooled connections per host; zero
	// means 2.
	MaxIdleConnsPerHost int
}

// NewClient returns a client following cfg. Connections are pooled per
// client, so a client built with AllowPrivate must not be shared with calls
// that need the check: a connection dialled for one would serve the other.
func NewClient(cfg Config) *http.Client {
	var control func(context.Context, string, string, syscall.RawConn) error
	if !cfg.AllowPrivate {
		control = checkDial
	}
	perHost := cfg.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = 2
	}
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, ControlContext: control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    perHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    handshakeTimeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: NoRedirect}
}

// NoRedirect is the CheckRedirect of the clients: a redirect is answered as
// it is, for the caller to report, and never followed.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// PublicAddr reports whether ip is a public unicast address, one that a
// tenant's URL may make keyshift connect to.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

// checkDial is the dialer's control function: it runs once the name is
// resolved, just before connecting, on the address actually dialled.
func checkDial(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNotPublic, address)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrNotPublic, ap.Addr().Unmap())
	}
	return nil
}
