package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// Paths of the protocol endpoints.
const (
	PathToken          = "/oauth2/token"
	PathIntrospect     = "/oauth2/introspect"
	PathRevoke         = "/oauth2/revoke"
	PathJWKS           = "/.well-known/jwks.json"
	PathASMetadata     = "/.well-known/oauth-authorization-server"
	PathOIDCDiscovery  = "/.well-known/openid-configuration"
	discoveryCacheCtrl = "public, max-age=300"
)

// buildMetadata renders the discovery document for the scope catalogue.
//
// The same document is served as the OpenID configuration so OIDC
// libraries can find jwks_uri and the token endpoint. It is not yet a
// complete OpenID Provider configuration: authorization_endpoint,
// subject_types_supported and id_token_signing_alg_values_supported are
// required by OIDC Discovery §3 and arrive with the OIDC flows (issue 6).
// Until then the document lists only what exists rather than advertise
// endpoints that would 404.
func (s *Server) buildMetadata(scopes []string) ([]byte, error) {
	authMethods := []string{AuthMethodBasic, AuthMethodPost}
	md := metadata{
		Issuer:                           s.cfg.Issuer,
		TokenEndpoint:                    s.cfg.Issuer + PathToken,
		JWKSURI:                          s.cfg.Issuer + PathJWKS,
		IntrospectionEndpoint:            s.cfg.Issuer + PathIntrospect,
		RevocationEndpoint:               s.cfg.Issuer + PathRevoke,
		ScopesSupported:                  scopes,
		ResponseTypesSupported:           []string{},
		GrantTypesSupported:              s.grantTypes(),
		TokenEndpointAuthMethods:         authMethods,
		IntrospectionEndpointAuthMethods: authMethods,
		RevocationEndpointAuthMethods:    authMethods,
	}
	if md.ScopesSupported == nil {
		md.ScopesSupported = []string{}
	}
	body, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("marshal metadata: %w", err)
	}
	return body, nil
}

// grantTypes lists the registered grant types, sorted.
func (s *Server) grantTypes() []string {
	out := make([]string, 0, len(s.grants))
	for gt := range s.grants {
		out = append(out, gt)
	}
	slices.Sort(out)
	return out
}

// loadScopes refreshes scopes_supported from the catalogue.
func (s *Server) loadScopes(ctx context.Context) error {
	list, err := s.st.ListScopes(ctx)
	if err != nil {
		return fmt.Errorf("list scopes: %w", err)
	}
	names := make([]string, 0, len(list))
	for _, sc := range list {
		names = append(names, sc.Name)
	}
	slices.Sort(names)
	body, err := s.buildMetadata(names)
	if err != nil {
		return err
	}
	s.metadata.Store(&body)
	return nil
}

// handleMetadata serves the authorization server metadata (RFC 8414) and
// the OpenID configuration.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	body := *s.metadata.Load()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", discoveryCacheCtrl)
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(body)
}

// allowGet answers methods other than GET and HEAD with 405, and reports
// whether the request may proceed.
func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
