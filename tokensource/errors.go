package tokensource

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a failure to get a token by what the integrator must do
// about it.
type Kind int

// The kinds of failure. Each has a sentinel error for errors.Is.
const (
	// KindInvalidClient: the server did not accept the client's credentials
	// (wrong, expired or rotated secret, unknown or disabled client).
	KindInvalidClient Kind = iota + 1
	// KindInvalidScope: the server refused one or more requested scopes.
	KindInvalidScope
	// KindUnreachable: no HTTP answer (DNS, connection refused, timeout).
	KindUnreachable
	// KindTLS: the TLS handshake or certificate check failed.
	KindTLS
	// KindHTML: the URL answered with an HTML page, usually a login page or
	// a proxy's error page: the token URL is wrong.
	KindHTML
	// KindServer: the server failed (5xx) or asked us to slow down (429).
	KindServer
	// KindOAuth: any other RFC 6749 error response (unauthorized_client,
	// unsupported_grant_type, invalid_request, ...).
	KindOAuth
	// KindBadResponse: an answer that is not a valid token response.
	KindBadResponse
	// KindDiscovery: the issuer's metadata could not be fetched or is invalid.
	KindDiscovery
)

// Sentinel errors, one per Kind: errors.Is(err, ErrInvalidClient) is true for
// an *Error of KindInvalidClient.
var (
	ErrInvalidClient = errors.New(codeInvalidClient)
	ErrInvalidScope  = errors.New(codeInvalidScope)
	ErrUnreachable   = errors.New("token endpoint unreachable")
	ErrTLS           = errors.New("TLS failure")
	ErrHTML          = errors.New("token endpoint returned HTML")
	ErrServer        = errors.New("token endpoint server error")
	ErrOAuth         = errors.New("OAuth error")
	ErrBadResponse   = errors.New("invalid token response")
	ErrDiscovery     = errors.New("discovery failed")
)

var kindSentinel = map[Kind]error{
	KindInvalidClient: ErrInvalidClient, KindInvalidScope: ErrInvalidScope,
	KindUnreachable: ErrUnreachable, KindTLS: ErrTLS, KindHTML: ErrHTML,
	KindServer: ErrServer, KindOAuth: ErrOAuth, KindBadResponse: ErrBadResponse,
	KindDiscovery: ErrDiscovery,
}

// Error is a failure to get a token. It never contains a secret.
type Error struct {
	Kind Kind
	// Code and Description are the server's RFC 6749 §5.2 error fields,
	// when it sent them.
	Code        string
	Description string
	// Status is the HTTP status of the answer; 0 when there was none.
	Status int
	// URL is the endpoint that failed (token endpoint or discovery URL).
	URL string
	// Issuer is set when the failure was fetching this issuer's metadata
	// (discovery), so the fix names the URL the integrator configured.
	Issuer string
	// ClientID is the client the request was for.
	ClientID string
	// Scopes are, for KindInvalidScope, the requested scopes the server
	// named as refused, or every requested scope when it named none.
	Scopes []string
	// Err is the underlying transport or decoding error, if any.
	Err error
}

// Error describes the failure and the fix in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tokensource: ")
	b.WriteString(kindSentinel[e.Kind].Error())
	if e.Code != "" && e.Code != kindSentinel[e.Kind].Error() {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.URL != "" {
		fmt.Fprintf(&b, " from %s", e.URL)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " [HTTP %d]", e.Status)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %s", e.Description)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	fmt.Fprintf(&b, " — %s", e.Fix())
	return b.String()
}

// Fix is a one-line instruction for the person running the integration.
func (e *Error) Fix() string {
	switch e.Kind {
	case KindInvalidClient:
		// The server answers the same invalid_client for every cause, so
		// that it tells an attacker nothing: name them all.
		return fmt.Sprintf("client id %q was refused: either the client is unknown or disabled, or its secret is wrong, expired or was rotated; check the client's status and get the current secret from the client's admin page", e.ClientID)
	case KindInvalidScope:
		return fmt.Sprintf("scopes %s are not on the client: add them to the client or stop requesting them", strings.Join(e.Scopes, " "))
	case KindUnreachable:
		if e.Issuer != "" {
			return fmt.Sprintf("check the issuer URL %s: its host and port, DNS, proxies and firewalls", e.Issuer)
		}
		return "check the token URL's host and port, DNS, proxies and firewalls"
	case KindTLS:
		if e.Issuer != "" {
			return fmt.Sprintf("check the certificate of the issuer %s (expired, wrong host name, unknown CA) and the system clock", e.Issuer)
		}
		return "check the server certificate (expired, wrong host name, unknown CA) and the system clock"
	case KindHTML:
		return "the URL is not a token endpoint: use the token_endpoint from the issuer's /.well-known/oauth-authorization-server"
	case KindServer:
		return "the authorization server is failing; retrying with backoff"
	case KindDiscovery:
		return "check the issuer URL: its /.well-known/oauth-authorization-server must be reachable JSON naming the same issuer"
	case KindOAuth:
		if e.Code == codeUnauthorizedClient {
			return "enable the client_credentials grant on the client"
		}
		return "see the server's error description"
	default:
		return "check the token URL and the server's logs"
	}
}

// Is makes errors.Is(err, ErrInvalidClient) and the other sentinels work.
func (e *Error) Is(target error) bool { return kindSentinel[e.Kind] == target }

// Unwrap returns the underlying transport or decoding error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may succeed without anyone
// changing the configuration.
func (e *Error) Temporary() bool {
	return e.Kind == KindUnreachable || e.Kind == KindServer
}
