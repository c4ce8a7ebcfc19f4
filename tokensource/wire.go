package tokensource

// OAuth 2.0 wire values the Source sends and reads. keyshift defines its
// vocabulary once, in internal/oauth, but a public package imports nothing
// from internal/ (DESIGN.md), so tokensource keeps this small copy of the
// values it needs; the AuthMethod constants are the others.
const (
	grantClientCredentials = "client_credentials"
	// clientAssertionTypeJWT is the client_assertion_type of
	// private_key_jwt (RFC 7523 §2.2).
	clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tokenTypeBearer        = "Bearer"

	// Error codes (RFC 6749 §5.2) the Source tells apart.
	codeInvalidClient          = "invalid_client"
	codeInvalidScope           = "invalid_scope"
	codeUnauthorizedClient     = "unauthorized_client"
	codeServerError            = "server_error"
	codeTemporarilyUnavailable = "temporarily_unavailable"
)
