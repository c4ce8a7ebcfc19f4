package authz

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/redact"
	"github.com/keyshift/keyshift/internal/store"
)

// maxAuthorizationLen bounds the Authorization header we decode.
const maxAuthorizationLen = 4096

// clientCredentials are the credentials a request presented.
type clientCredentials struct {
	method string // one of oauth.AuthMethods()
	id     string
	secret string
	// assertion is the parsed private_key_jwt assertion; nil when it did
	// not parse, which fails authentication.
	assertion *jose.JSONWebSignature
}

var errBasic = errors.New("malformed Basic credentials")

// parseBasic decodes the credentials of an HTTP Basic Authorization header
// value (without the scheme): base64 of id ":" secret, where id and secret
// are each form-urlencoded first (RFC 6749 §2.3.1).
func parseBasic(token68 string) (id, secret string, err error) {
	token68 = strings.TrimSpace(token68)
	if token68 == "" || len(token68) > maxAuthorizationLen {
		return "", "", errBasic
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(token68)
	if err != nil {
		return "", "", errBasic
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errBasic
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", errBasic
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", errBasic
	}
	if !cleanText(id) || !cleanText(secret) {
		return "", "", errBasic
	}
	return id, secret, nil
}

// parseClientCredentials finds the client credentials of a request: HTTP
// Basic, client_id/client_secret in the body, a client assertion
// (private_key_jwt) or client_id alone (a public client), never two methods
// at once (RFC 6749 §2.3: one method per request).
func parseClientCredentials(h http.Header, f form) (clientCredentials, *Error) {
	authz := h.Values("Authorization")
	switch {
	case len(authz) > 1:
		return clientCredentials{}, errInvalidRequest("more than one Authorization header")
	case len(authz) == 1:
		scheme, rest, _ := strings.Cut(authz[0], " ")
		if !strings.EqualFold(scheme, "Basic") {
			// An unsupported authentication method is invalid_client
			// (RFC 6749 §5.2); the challenge names the one we support.
			return clientCredentials{}, errInvalidClient()
		}
		id, secret, err := parseBasic(rest)
		if err != nil {
			return clientCredentials{}, errInvalidRequest(err.Error())
		}
		if f.has("client_secret") || f.has("client_assertion") || f.has("client_assertion_type") {
			return clientCredentials{}, errInvalidRequest("client credentials in both the Authorization header and the body")
		}
		if f.has("client_id") && f.get("client_id") != id {
			return clientCredentials{}, errInvalidRequest("client_id in the body differs from the Authorization header")
		}
		return clientCredentials{method: oauth.AuthClientSecretBasic, id: id, secret: secret}, nil
	case f.has("client_assertion") || f.has("client_assertion_type"):
		return parseAssertionCredentials(f)
	case f.has("client_secret"):
		if !f.has("client_id") {
			return clientCredentials{}, errInvalidRequest("client_secret without client_id")
		}
		return clientCredentials{method: oauth.AuthClientSecretPost, id: f.get("client_id"), secret: f.get("client_secret")}, nil
	case f.has("client_id"):
		return clientCredentials{method: oauth.AuthNone, id: f.get("client_id")}, nil
	default:
		return clientCredentials{}, errInvalidClient()
	}
}

// parseAssertionCredentials reads private_key_jwt credentials (RFC 7523
// §2.2). The client is the one client_id names, else the assertion's sub;
// verification later requires both to agree.
func parseAssertionCredentials(f form) (clientCredentials, *Error) {
	switch {
	case f.has("client_secret"):
		return clientCredentials{}, errInvalidRequest("client_secret and client_assertion together")
	case !f.has("client_assertion"):
		return clientCredentials{}, errInvalidRequest("client_assertion_type without client_assertion")
	case !f.has("client_assertion_type"):
		return clientCredentials{}, errInvalidRequest("client_assertion without client_assertion_type")
	case f.get("client_assertion_type") != oauth.ClientAssertionTypeJWT:
		return clientCredentials{}, &Error{Code: oauth.CodeInvalidClient, Description: "unsupported client_assertion_type", Status: http.StatusUnauthorized}
	}
	jws, sub := parseAssertion(f.get("client_assertion"))
	id := f.get("client_id")
	if id == "" {
		id = sub
	}
	return clientCredentials{method: oauth.AuthPrivateKeyJWT, id: id, assertion: jws}, nil
}

// dummyHash is compared against when the client is unknown, so unknown and
// known clients cost the same.
var dummyHash = credential.Hash("kss_dummy-secret-for-constant-work")

// secretMatches reports whether secret is one of the client's live secrets
// at now. It hashes and compares against two slots whatever the client
// holds, so timing says nothing about the client or its secrets.
func secretMatches(c *store.Client, secret string, now time.Time) bool {
	if !credential.Valid(credential.PrefixClientSecret, secret) {
		return false // format is public knowledge; no need to hide it
	}
	h := credential.Hash(secret)
	match := false
	for i := range 2 {
		want, live := dummyHash[:], false
		if c != nil && i < len(c.Secrets) {
			s := c.Secrets[i]
			want, live = s.Hash, s.ExpiresAt == nil || now.Before(*s.ExpiresAt)
		}
		if credential.Equal(h[:], want) && live {
			match = true
		}
	}
	return match
}

// clientAuthMethod is the client's registered method; RFC 7591 §2 makes
// client_secret_basic the default.
func clientAuthMethod(c *store.Client) string {
	if c.AuthMethod == "" {
		return oauth.AuthClientSecretBasic
	}
	return c.AuthMethod
}

// authenticateClient authenticates the request's client against the cache.
// Every failure gives the same invalid_client, recorded against the remote
// address and, for a known client, its id. Credentials are always checked
// first: a correct secret or assertion is never refused because of earlier
// failures (secrets carry 256 random bits, so guessing is not the threat
// and checking costs one SHA-256). A failure from an address or client id
// that has used up its failures is answered 429 instead, without counting.
func (s *Server) authenticateClient(r *http.Request, cred clientCredentials, endpoint string) (*store.Client, *Error) {
	now := s.cfg.Now()
	c, err := s.checkClient(r, &cred, endpoint, now)
	if err == nil {
		return c, nil
	}
	if e, ok := err.(*Error); ok {
		return nil, e
	}
	addr := clientip.LimitKey(r)
	logged := redact.ClientID(cred.id)
	if c != nil {
		logged = c.ID
	}
	wait, limited := s.addrLimiter.blocked(addr, now)
	if c != nil {
		if w, l := s.clientLimiter.blocked(c.ID, now); l {
			wait, limited = max(wait, w), true
		}
	}
	if limited {
		s.metrics.throttled.WithLabelValues(endpoint).Inc()
		s.log.Warn("client authentication throttled", "endpoint", endpoint, "client_id", logged, "remote_addr", clientip.From(r))
		return nil, errThrottled(wait)
	}
	s.addrLimiter.fail(addr, now)
	if c != nil {
		s.clientLimiter.fail(c.ID, now)
	}
	s.log.Info("client authentication failed", "endpoint", endpoint, "client_id", logged, "remote_addr", clientip.From(r), "method", cred.method)
	return nil, errInvalidClient()
}

// errAuthFailed is checkClient's verdict on credentials that do not
// authenticate the client.
var errAuthFailed = errors.New("client authentication failed")

// checkClient checks cred against the cache: nil when they authenticate
// the client, errAuthFailed when not, or an *Error to answer as it is (the
// store could not be asked). It returns the client cred names, if known.
func (s *Server) checkClient(r *http.Request, cred *clientCredentials, endpoint string, now time.Time) (*store.Client, error) {
	c, tenantActive := s.clients.lookup(cred.id)
	if c != nil && cred.method == oauth.AuthClientSecretBasic && cred.secret == "" && clientAuthMethod(c) == oauth.AuthNone {
		// A public client identifying itself in the Authorization header
		// with an empty password (RFC 6749 §2.3.1 form-encodes id and
		// secret; x/oauth2's auto-detection tries this first): that is
		// client_id alone, not a wrong secret.
		cred.method = oauth.AuthNone
	}
	ok := true
	if cred.method == oauth.AuthClientSecretBasic || cred.method == oauth.AuthClientSecretPost {
		// Hashed whatever the client, before any other check (see secretMatches).
		ok = secretMatches(c, cred.secret, now)
	}
	ok = ok && c != nil && clientAuthMethod(c) == cred.method &&
		c.Status == store.StatusActive && tenantActive
	switch {
	case !ok:
	case cred.method == oauth.AuthPrivateKeyJWT:
		if e := s.checkAssertion(r, c, *cred, endpoint); e != nil {
			if e.Code != oauth.CodeInvalidClient {
				return c, e
			}
			ok = false
		}
	case cred.method == oauth.AuthNone:
		// A public client proves nothing, so it may not learn about other
		// tokens (RFC 7662 §4); revocation of its own tokens is allowed
		// (RFC 7009 §2.1). One registered for client_credentials (which the
		// admin API refuses) would hand tokens to anyone knowing its id.
		ok = endpoint != "introspect" && !slices.Contains(c.GrantTypes, oauth.GrantClientCredentials)
	}
	if !ok {
		return c, errAuthFailed
	}
	return c, nil
}

// checkAssertion verifies the private_key_jwt assertion of active client c.
// A refused assertion is invalid_client, with the reason in the log only
// (never the assertion); a store failure is temporarily_unavailable, since
// the client did nothing wrong.
func (s *Server) checkAssertion(r *http.Request, c *store.Client, cred clientCredentials, endpoint string) *Error {
	var err error = errAssertion("malformed assertion or unsupported alg")
	if cred.assertion != nil {
		err = s.assertions.verify(r.Context(), c, cred.assertion)
	}
	if err == nil {
		return nil
	}
	var refused errAssertion
	if errors.As(err, &refused) {
		s.log.Info("client assertion refused", "endpoint", endpoint, "client_id", c.ID, "reason", refused.Error())
		return errInvalidClient()
	}
	s.log.Error("client assertion not checked", "endpoint", endpoint, "client_id", c.ID, "err", err)
	return &Error{Code: oauth.CodeTemporarilyUnavailable, Description: "client authentication unavailable; retry later", Status: http.StatusServiceUnavailable, RetryAfter: 5 * time.Second}
}

// remoteAddr is the client address of r, for logs and audit entries
// (see clientip: the peer, or the client a trusted proxy names).
func remoteAddr(r *http.Request) string { return clientip.From(r) }
