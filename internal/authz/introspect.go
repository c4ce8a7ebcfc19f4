package authz

import (
	"net/http"
	"slices"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// handleIntrospect is the introspection endpoint (RFC 7662), for access
// tokens and, when Config.Keys is set, legacy API keys (see introspectAny).
// The caller authenticates as a client and learns about tokens of its own
// tenant only; a platform operator client (keyshift:admin) about any.
// Everything else — unknown, expired, revoked, foreign — is
// {"active":false}, so the answer never tells a caller more than that it
// cannot use the token. A key of the caller's tenant that the timeline
// refuses is answered active:false with the decision, so that the guard can
// tell its user why.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	f, caller, e := s.authenticateCaller(w, r, "introspect")
	if e != nil {
		s.metrics.introspections.WithLabelValues(e.Code).Inc()
		writeError(w, s.log, e)
		return
	}
	// token_type_hint is advisory (RFC 7662 §2.1): it orders the search.
	resp, active, err := s.introspectAny(r.Context(), f.get("token"), f.get("token_type_hint"), caller)
	if err != nil {
		s.metrics.introspections.WithLabelValues(oauth.CodeServerError).Inc()
		writeError(w, s.log, err)
		return
	}
	outcome := "inactive"
	if active {
		outcome = "active"
	}
	s.metrics.introspections.WithLabelValues(outcome).Inc()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) introspect(token string, caller *store.Client) introspection {
	cl, err := s.verifyToken(token, s.cfg.Now())
	if err != nil {
		return introspection{}
	}
	c, err := s.checkLive(cl)
	if err != nil {
		return introspection{}
	}
	if cl.Tenant != caller.Tenant && !isOperator(caller) {
		s.log.Info("introspection of another tenant's token refused", "caller", caller.ID, "caller_tenant", caller.Tenant)
		return introspection{}
	}
	scopes := liveScopes(cl, c)
	return introspection{
		Active:    true,
		Scope:     joinScopes(scopes),
		ClientID:  cl.ClientID,
		Subject:   cl.Subject,
		Audience:  s.cfg.Audience,
		Issuer:    cl.Issuer,
		ExpiresAt: cl.ExpiresAt,
		IssuedAt:  cl.IssuedAt,
		NotBefore: cl.NotBefore,
		JTI:       cl.JTI,
		TokenType: oauth.TokenTypeBearer,
		Tenant:    cl.Tenant,
	}
}

// authenticateCaller reads the form of an introspection or revocation
// request and authenticates its client the same way the token endpoint
// does, and requires the token parameter.
func (s *Server) authenticateCaller(w http.ResponseWriter, r *http.Request, endpoint string) (form, *store.Client, *Error) {
	f, e := readForm(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		return nil, nil, e
	}
	cred, e := parseClientCredentials(r.Header, f)
	if e != nil {
		return nil, nil, e
	}
	c, e := s.authenticateClient(r, cred, endpoint)
	if e != nil {
		return nil, nil, e
	}
	if !f.has("token") {
		return nil, nil, errInvalidRequest("missing token")
	}
	return f, c, nil
}

// isOperator reports whether c is a platform operator client, entitled to
// see and revoke tokens of every tenant.
func isOperator(c *store.Client) bool {
	return c.Tenant == store.PlatformTenant && slices.Contains(c.Scopes, oauth.ScopeAdmin)
}
