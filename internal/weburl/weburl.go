// Package weburl checks URLs that keyshift stores and later calls or shows:
// webhook targets, redirect URIs and migration guide links. They must be
// absolute, carry no credentials or fragment, and use https, with plain
// http allowed only on the loopback interface (development, native apps).
package weburl

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// MaxLen bounds accepted URLs.
const MaxLen = 2048

// Errors say what is wrong, for "<field> <error>" messages.
var (
	ErrTooLong     = errors.New("is too long")
	ErrNotAbsolute = errors.New("must be an absolute URL with a host")
	ErrUserinfo    = errors.New("must not carry credentials")
	ErrFragment    = errors.New("must not have a fragment")
	ErrInsecure    = errors.New("must use https (http only on a loopback address)")
)

// CheckSecure parses s and applies the rules above.
func CheckSecure(s string) (*url.URL, error) {
	if len(s) > MaxLen {
		return nil, ErrTooLong
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Hostname() == "" {
		return nil, ErrNotAbsolute
	}
	if u.User != nil {
		return nil, ErrUserinfo
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return nil, ErrFragment
	}
	switch {
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
		return u, nil
	}
	return nil, ErrInsecure
}

// IsLoopbackHost reports whether host is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
