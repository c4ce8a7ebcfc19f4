package authz

import (
	"encoding/json"
	"errors"
	"slices"
)

// tokenRequest is a token request after framing, client authentication and
// scope syntax checks: what a grant gets to decide on.
type tokenRequest struct {
	grantType string
	form      form
	// scopes are the requested scopes, parsed and deduplicated; nil when
	// the request named none.
	scopes []string
}

// tokenResponse is the RFC 6749 §5.1 success response. client_credentials
// never carries a refresh token (RFC 6749 §4.4.3); the flows for people add
// one with offline_access, and an ID token with openid.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// accessClaims are the claims of a keyshift access token (RFC 9068 §2.2),
// a struct rather than a map so marshalling stays cheap on the hot path.
type accessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	JTI       string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	Tenant    string   `json:"tenant"`
}

// audience is the JWT "aud" claim: written as one string, read as a string
// or an array (RFC 7519 §4.1.3).
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

func (a audience) contains(s string) bool { return slices.Contains(a, s) }

// introspection is the RFC 7662 §2.2 response. An inactive token is
// answered with "active" alone.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	JTI       string `json:"jti,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Tenant    string `json:"tenant,omitempty"`
}

// metadata is the authorization server metadata (RFC 8414 §2), also
// served as the OpenID configuration. It lists only what exists.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	ScopesSupported                  []string `json:"scopes_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`

	// The OpenID Provider's (OIDC Discovery §3) and the flows for people.
	AuthorizationEndpoint        string   `json:"authorization_endpoint"`
	UserinfoEndpoint             string   `json:"userinfo_endpoint"`
	EndSessionEndpoint           string   `json:"end_session_endpoint"`
	DeviceAuthorizationEndpoint  string   `json:"device_authorization_endpoint,omitempty"`
	ResponseModesSupported       []string `json:"response_modes_supported"`
	SubjectTypesSupported        []string `json:"subject_types_supported"`
	IDTokenSigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthSigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethods         []string `json:"code_challenge_methods_supported"`
	ClaimsSupported              []string `json:"claims_supported"`
	PromptValuesSupported        []string `json:"prompt_values_supported"`
	ISSParameterSupported        bool     `json:"authorization_response_iss_parameter_supported"`
	ClaimsParameterSupported     bool     `json:"claims_parameter_supported"`
	RequestParameterSupported    bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported bool     `json:"request_uri_parameter_supported"`
}
