// Package oauth is the OAuth 2.0 and OpenID Connect wire vocabulary keyshift
// speaks: grant types, client authentication methods, token types and type
// hints, response types, error codes, the built-in scopes and the wire types
// of the token endpoint. It is defined here once and used by the protocol
// server (authz), the admin API and its validation, the console and the CLI.
//
// It holds names and shapes only, no behaviour, so that any package may
// import it. The public packages tokensource and guard import nothing from
// internal/ and keep their own few constants; each says so where they stand.
package oauth

// Grant types (RFC 6749 §4.1.3, §4.4.2, §6; RFC 8628 §3.4).
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// GrantTypes returns every grant type keyshift implements, in the order the
// admin API lists them.
func GrantTypes() []string {
	return []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode}
}

// Client authentication methods at the token endpoint (RFC 7591 §2, OIDC
// Core §9).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	// AuthNone is a public client (a native or browser app): it identifies
	// itself with client_id alone and proves nothing.
	AuthNone = "none"
)

// AuthMethods returns every client authentication method keyshift
// implements, in the order discovery lists them.
func AuthMethods() []string {
	return []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone}
}

// UsesSecret reports whether clients of auth method m hold client secrets;
// "" is client_secret_basic, the RFC 7591 default.
func UsesSecret(m string) bool {
	return m == "" || m == AuthClientSecretBasic || m == AuthClientSecretPost
}

// ClientAssertionTypeJWT is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Token types.
const (
	// TokenTypeBearer is the token_type of every access token issued
	// (RFC 6750 §6.1.1).
	TokenTypeBearer = "Bearer"
	// TokenTypeAccessJWT is the JWS "typ" of access tokens (RFC 9068 §2.1).
	TokenTypeAccessJWT = "at+jwt"
)

// Token type hints at introspection and revocation (RFC 7009 §2.1,
// RFC 7662 §2.1), and keyshift's own for legacy API keys.
const (
	TokenTypeHintAccessToken  = "access_token"
	TokenTypeHintRefreshToken = "refresh_token"
	TokenTypeHintAPIKey       = "api_key"
)

// ResponseTypeCode is the one response_type keyshift supports: the
// authorization code flow (RFC 6749 §4.1.1).
const ResponseTypeCode = "code"

// Built-in scopes: OpenID Connect's (OIDC Core §5.4, §11) and keyshift's
// two admin levels.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
	// ScopeAdmin is the platform operator's scope; only clients of the
	// platform tenant may hold it.
	ScopeAdmin = "keyshift:admin"
	// ScopeTenantAdmin administers the token's own tenant only.
	ScopeTenantAdmin = "keyshift:tenant-admin"
)

// Error codes of the token, introspection and revocation endpoints
// (RFC 6749 §5.2, RFC 7009 §2.2.1).
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeUnsupportedTokenType   = "unsupported_token_type"
	CodeServerError            = "server_error"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Token endpoint error codes of the device flow (RFC 8628 §3.5).
const (
	CodeAuthorizationPending = "authorization_pending"
	CodeSlowDown             = "slow_down"
	CodeExpiredToken         = "expired_token"
)

// Authorization endpoint error codes (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
const (
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
	CodeRequestNotSupported     = "request_not_supported"
	CodeRequestURINotSupported  = "request_uri_not_supported"
)

// Bearer token error codes of protected resources (RFC 6750 §3.1).
const (
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)
