package oauth

// Paths of keyshift's endpoints under the issuer URL. Discovery publishes
// them, but keyshift's own clients (the console, the admin API client, the
// gateway, the benchmark) know them in advance.
const (
	// The protocol endpoints for machines.
	PathToken               = "/oauth2/token"
	PathIntrospect          = "/oauth2/introspect"
	PathRevoke              = "/oauth2/revoke"
	PathDeviceAuthorization = "/oauth2/device_authorization"
	PathUserinfo            = "/oauth2/userinfo"
	PathJWKS                = "/.well-known/jwks.json"
	PathASMetadata          = "/.well-known/oauth-authorization-server"
	PathOIDCDiscovery       = "/.well-known/openid-configuration"

	// The pages people use.
	PathAuthorize = "/oauth2/authorize"
	PathLogin     = "/oauth2/login"
	PathConsent   = "/oauth2/consent"
	PathLogout    = "/oauth2/logout"
	PathDevice    = "/oauth2/device"
)
