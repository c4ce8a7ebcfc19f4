package authz

import "github.com/keyshift/keyshift/internal/store"

// Revoked reports whether the access token with this jti was revoked. It
// reads the in-memory set kept current by the change feed, so an in-process
// guard refuses a revoked token on its next request.
func (s *Server) Revoked(jti string) bool { return s.revoked.revoked(jti) }

// ClientActive reports whether the client exists and it and its tenant are
// active, from the same in-memory cache the token endpoint uses.
func (s *Server) ClientActive(clientID string) bool {
	c, tenantActive := s.clients.lookup(clientID)
	return c != nil && c.Status == store.StatusActive && tenantActive
}
