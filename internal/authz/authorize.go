package authz

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keyshift/keyshift/internal/oauth"
)

// Authorization request limits: far above what real clients send, low
// enough that a hostile request costs little.
const (
	maxAuthorizeQuery = 8 << 10
	maxStateLen       = 512
	maxNonceLen       = 512
	maxLoginHintLen   = 256
	maxRedirectURILen = 2048
	maxMaxAge         = 366 * 24 * 3600
)

// prompt values (OIDC Core §3.1.2.1).
type prompt struct{ none, login, consent bool }

// authRequest is a parsed authorization request. Its fields are exactly the
// parameters keyshift acts on; params keeps every parameter as sent, so the
// request can be carried through the login and consent pages and checked
// again in full when it comes back.
type authRequest struct {
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	codeChallenge string
	loginHint     string
	scopes        []string
	prompt        prompt
	maxAge        int // -1 when absent
	params        form
}

// authError is a refusal at the authorization endpoint. Until the client
// and its redirect URI are confirmed the error is shown to the person on
// a page (RFC 6749 §4.1.2.1: never redirect to an unverified URI); after,
// it goes back to the client in the redirect.
type authError struct {
	code        string
	description string
	redirect    bool
}

func (e *authError) Error() string { return e.code + ": " + e.description }

func pageError(code, desc string) *authError { return &authError{code: code, description: desc} }

func redirectError(code, desc string) *authError {
	return &authError{code: code, description: desc, redirect: true}
}

// parseAuthorizeParams parses the raw query (or form body) of an
// authorization request with the same strictness as the token endpoint:
// each parameter at most once, clean UTF-8, bounded size.
func parseAuthorizeParams(raw string) (form, *authError) {
	if len(raw) > maxAuthorizeQuery {
		return nil, pageError(oauth.CodeInvalidRequest, "the authorization request is too large")
	}
	f, err := parseForm(raw)
	if err != nil {
		return nil, pageError(oauth.CodeInvalidRequest, err.Error())
	}
	return f, nil
}

// clientLookup finds a client for the authorization endpoint; it returns
// nil when the client is unknown, disabled or of a disabled tenant.
type clientLookup func(id string) *clientView

// clientView is what the authorization endpoint needs of a client.
type clientView struct {
	id           string
	tenant       string
	name         string
	grantTypes   []string
	scopes       []string
	redirectURIs []string
}

// parseAuthorizeRequest validates an authorization request in the order
// RFC 6749 §4.1.2.1 requires: client and redirect URI first (errors shown
// on a page), then everything else (errors redirected to the client).
func parseAuthorizeRequest(f form, lookup clientLookup) (*authRequest, *clientView, *authError) {
	req := &authRequest{params: f, maxAge: -1}
	req.clientID = f.get("client_id")
	if req.clientID == "" {
		return nil, nil, pageError(oauth.CodeInvalidRequest, "client_id is missing")
	}
	c := lookup(req.clientID)
	if c == nil {
		return nil, nil, pageError(oauth.CodeInvalidRequest, "the client is unknown or disabled")
	}
	if !slices.Contains(c.grantTypes, oauth.GrantAuthorizationCode) {
		return nil, c, pageError(oauth.CodeUnauthorizedClient, "the client is not registered for the authorization code flow")
	}
	req.redirectURI = f.get("redirect_uri")
	if req.redirectURI == "" {
		// OIDC requires redirect_uri and RFC 9700 §2.1 wants it compared
		// exactly; keyshift requires it of every client.
		return nil, c, pageError(oauth.CodeInvalidRequest, "redirect_uri is missing")
	}
	if len(req.redirectURI) > maxRedirectURILen || !redirectURIRegistered(c.redirectURIs, req.redirectURI) {
		return nil, c, pageError(oauth.CodeInvalidRequest, "redirect_uri is not registered for this client")
	}
	// From here on the client gets the error at its redirect URI.
	if len(f.get("state")) > maxStateLen {
		// Too long to send back; drop it so the redirect stays bounded.
		delete(f, "state")
		return req, c, redirectError(oauth.CodeInvalidRequest, "state is too long")
	}
	req.state = f.get("state")
	if f.has("request") {
		return req, c, redirectError(oauth.CodeRequestNotSupported, "request objects are not supported")
	}
	if f.has("request_uri") {
		return req, c, redirectError(oauth.CodeRequestURINotSupported, "request_uri is not supported")
	}
	if rt := f.get("response_type"); rt != oauth.ResponseTypeCode {
		if rt == "" {
			return req, c, redirectError(oauth.CodeInvalidRequest, "response_type is missing")
		}
		return req, c, redirectError(oauth.CodeUnsupportedResponseType, "only response_type=code is supported")
	}
	if rm := f.get("response_mode"); rm != "" && rm != "query" {
		return req, c, redirectError(oauth.CodeInvalidRequest, "only response_mode=query is supported")
	}
	if e := req.parsePKCE(f); e != nil {
		return req, c, e
	}
	scopes, err := parseScope(f.get("scope"))
	if err != nil {
		return req, c, redirectError(oauth.CodeInvalidScope, err.Error())
	}
	if len(scopes) == 0 {
		return req, c, redirectError(oauth.CodeInvalidScope, "scope is missing")
	}
	if refused := outside(scopes, authorizableScopes(c)); len(refused) > 0 {
		return req, c, redirectError(oauth.CodeInvalidScope, "scope not allowed for this client: "+joinScopes(refused))
	}
	req.scopes = scopes
	if e := req.parsePrompt(f.get("prompt")); e != nil {
		return req, c, e
	}
	if v := f.get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxMaxAge {
			return req, c, redirectError(oauth.CodeInvalidRequest, "max_age must be a number of seconds")
		}
		req.maxAge = n
	}
	req.nonce = f.get("nonce")
	if len(req.nonce) > maxNonceLen {
		return req, c, redirectError(oauth.CodeInvalidRequest, "nonce is too long")
	}
	req.loginHint = f.get("login_hint")
	if len(req.loginHint) > maxLoginHintLen {
		req.loginHint = ""
	}
	return req, c, nil
}

// parsePKCE requires an S256 code challenge (RFC 7636 §4.3, RFC 9700
// §2.1.1): "plain" or no method at all (which RFC 7636 reads as plain) is
// refused, as is a challenge that is not the base64url of a SHA-256.
func (req *authRequest) parsePKCE(f form) *authError {
	ch := f.get("code_challenge")
	if ch == "" {
		return redirectError(oauth.CodeInvalidRequest, "code_challenge is required (PKCE with S256)")
	}
	if m := f.get("code_challenge_method"); m != "S256" {
		return redirectError(oauth.CodeInvalidRequest, "code_challenge_method must be S256")
	}
	if len(ch) != 43 || !isBase64URL(ch) {
		return redirectError(oauth.CodeInvalidRequest, "code_challenge must be the base64url SHA-256 of the verifier")
	}
	req.codeChallenge = ch
	return nil
}

func (req *authRequest) parsePrompt(v string) *authError {
	if v == "" {
		return nil
	}
	for p := range strings.SplitSeq(v, " ") {
		switch p {
		case "none":
			req.prompt.none = true
		case "login":
			req.prompt.login = true
		case "consent":
			req.prompt.consent = true
		case "select_account":
			// One account per session: nothing to select.
		default:
			return redirectError(oauth.CodeInvalidRequest, "unsupported prompt value")
		}
	}
	if req.prompt.none && (req.prompt.login || req.prompt.consent) {
		return redirectError(oauth.CodeInvalidRequest, "prompt=none cannot be combined with other values")
	}
	return nil
}

// isBase64URL reports whether s uses only the base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// authorizableScopes are the scopes a client may request for a person: its
// registered scopes plus the OpenID Connect ones, offline_access only with
// the refresh_token grant.
func authorizableScopes(c *clientView) []string {
	out := slices.Clone(c.scopes)
	out = append(out, oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail)
	if slices.Contains(c.grantTypes, oauth.GrantRefreshToken) {
		out = append(out, oauth.ScopeOfflineAccess)
	}
	return out
}

// redirectURIRegistered compares a redirect URI with the registered ones
// exactly (RFC 9700 §4.1.3), except that a loopback IP literal may use any
// port, as native apps listen on an ephemeral one (RFC 8252 §7.3).
func redirectURIRegistered(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopbackIP(u.Hostname()) {
		return false
	}
	for _, reg := range registered {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != "http" || r.Hostname() != u.Hostname() {
			continue
		}
		if r.Path == u.Path && r.RawQuery == u.RawQuery && r.User == nil && u.User == nil && r.Fragment == "" && u.Fragment == "" {
			return true
		}
	}
	return false
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errorRedirect builds the redirect that carries an error back to the
// client (RFC 6749 §4.1.2.1), with iss (RFC 9207).
func errorRedirect(redirectURI, state, issuer string, e *authError) (string, error) {
	v := url.Values{}
	v.Set("error", e.code)
	if e.description != "" {
		v.Set("error_description", sanitizeDescription(e.description))
	}
	return addQuery(redirectURI, v, state, issuer)
}

// addQuery appends the response parameters to a redirect URI, keeping any
// query it was registered with (RFC 6749 §3.1.2).
func addQuery(redirectURI string, v url.Values, state, issuer string) (string, error) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return "", fmt.Errorf("registered redirect URI does not parse: %w", err)
	}
	if state != "" {
		v.Set("state", state)
	}
	v.Set("iss", issuer)
	q := u.Query()
	for k, vals := range v {
		q[k] = vals
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
