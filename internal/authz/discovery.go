package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/keyshift/keyshift/internal/oauth"
)

const discoveryCacheCtrl = "public, max-age=300"

// buildMetadata renders the discovery document for the scope catalogue,
// served both as RFC 8414 metadata and as the OpenID configuration. It
// lists exactly what exists: every endpoint answers, every value listed is
// accepted.
func (s *Server) buildMetadata(scopes []string) ([]byte, error) {
	confidential := []string{oauth.AuthClientSecretBasic, oauth.AuthClientSecretPost, oauth.AuthPrivateKeyJWT}
	md := metadata{
		Issuer:                           s.cfg.Issuer,
		TokenEndpoint:                    s.cfg.Issuer + oauth.PathToken,
		JWKSURI:                          s.cfg.Issuer + oauth.PathJWKS,
		IntrospectionEndpoint:            s.cfg.Issuer + oauth.PathIntrospect,
		RevocationEndpoint:               s.cfg.Issuer + oauth.PathRevoke,
		ScopesSupported:                  scopes,
		ResponseTypesSupported:           []string{oauth.ResponseTypeCode},
		GrantTypesSupported:              s.grantTypes(),
		TokenEndpointAuthMethods:         oauth.AuthMethods(),
		IntrospectionEndpointAuthMethods: confidential,
		RevocationEndpointAuthMethods:    oauth.AuthMethods(),

		AuthorizationEndpoint:        s.cfg.Issuer + oauth.PathAuthorize,
		UserinfoEndpoint:             s.cfg.Issuer + oauth.PathUserinfo,
		EndSessionEndpoint:           s.cfg.Issuer + oauth.PathLogout,
		ResponseModesSupported:       []string{"query"},
		SubjectTypesSupported:        []string{"public"},
		IDTokenSigningAlgs:           s.idTokenAlgs(),
		TokenEndpointAuthSigningAlgs: TokenEndpointAuthSigningAlgs(),
		CodeChallengeMethods:         []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
			"tenant", "name", "preferred_username", "email", "email_verified", "roles", "updated_at"},
		PromptValuesSupported: []string{"none", "login", "consent", "select_account"},
		ISSParameterSupported: true,
	}
	if _, ok := s.grants[oauth.GrantDeviceCode]; ok {
		md.DeviceAuthorizationEndpoint = s.cfg.Issuer + oauth.PathDeviceAuthorization
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

// idTokenAlgs lists the ID token algs the keyring can sign with.
func (s *Server) idTokenAlgs() []string {
	type algLister interface{ Algs() []string }
	out := []string{}
	if l, ok := s.signer.(algLister); ok {
		for _, a := range l.Algs() {
			if a == "RS256" || a == "ES256" || a == "EdDSA" {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// scopeDescription is the catalogue's description of a scope, for the
// consent page.
func (s *Server) scopeDescription(name string) string {
	if m := s.scopeDescs.Load(); m != nil {
		return (*m)[name]
	}
	return ""
}

// loadScopes refreshes scopes_supported and the scope descriptions from
// the catalogue.
func (s *Server) loadScopes(ctx context.Context) error {
	list, err := s.st.ListScopes(ctx)
	if err != nil {
		return fmt.Errorf("list scopes: %w", err)
	}
	names := make([]string, 0, len(list))
	descs := make(map[string]string, len(list))
	for _, sc := range list {
		names = append(names, sc.Name)
		descs[sc.Name] = sc.Description
	}
	s.scopeDescs.Store(&descs)
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
