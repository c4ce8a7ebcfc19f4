package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// leeway is the clock skew allowed when checking exp and nbf.
const leeway = 30 * time.Second

// maxTokenLen bounds the tokens we try to verify; ours are well under 4 KiB.
const maxTokenLen = 16 << 10

// ErrInvalidToken is wrapped by every Authenticate failure; the wrapping
// text says why (for logs, not for clients).
var ErrInvalidToken = errors.New("invalid access token")

// TokenInfo describes a valid keyshift access token.
type TokenInfo struct {
	JTI      string
	Tenant   string
	ClientID string
	Subject  string
	// Scopes are the token's scopes still held by its client: a scope
	// taken from a client stops working at once, not at token expiry.
	Scopes    []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Authenticate validates one of keyshift's own access tokens: signature and
// typ (via the Signer), issuer, audience, expiry and not-before with 30 s
// leeway, not revoked, client and tenant still active.
func (s *Server) Authenticate(_ context.Context, token string) (TokenInfo, error) {
	now := s.cfg.Now()
	cl, err := s.verifyToken(token, now)
	if err != nil {
		return TokenInfo{}, err
	}
	c, err := s.checkLive(cl)
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{
		JTI: cl.JTI, Tenant: cl.Tenant, ClientID: cl.ClientID, Subject: cl.Subject,
		Scopes:   liveScopes(cl, c),
		IssuedAt: time.Unix(cl.IssuedAt, 0), ExpiresAt: time.Unix(cl.ExpiresAt, 0),
	}, nil
}

// verifyToken checks that token is an unexpired access token this server
// issued and returns its claims. It does not look at revocation or client
// status (see checkLive).
func (s *Server) verifyToken(token string, now time.Time) (*accessClaims, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: empty or oversized", ErrInvalidToken)
	}
	payload, _, err := s.signer.Verify(token, oauth.TokenTypeAccessJWT)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var cl accessClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	switch {
	case cl.Issuer != s.cfg.Issuer:
		return nil, fmt.Errorf("%w: issuer %q", ErrInvalidToken, cl.Issuer)
	case !cl.Audience.contains(s.cfg.Audience):
		return nil, fmt.Errorf("%w: audience", ErrInvalidToken)
	case cl.ExpiresAt == 0 || !now.Before(time.Unix(cl.ExpiresAt, 0).Add(leeway)):
		return nil, fmt.Errorf("%w: expired", ErrInvalidToken)
	case cl.NotBefore != 0 && now.Add(leeway).Before(time.Unix(cl.NotBefore, 0)):
		return nil, fmt.Errorf("%w: not yet valid", ErrInvalidToken)
	case cl.JTI == "" || cl.ClientID == "" || cl.Tenant == "" || cl.Subject == "":
		return nil, fmt.Errorf("%w: missing claims", ErrInvalidToken)
	}
	return &cl, nil
}

// checkLive checks what can change after issue: revocation, and that the
// client still exists in the token's tenant and both are active.
func (s *Server) checkLive(cl *accessClaims) (*store.Client, error) {
	if s.revoked.revoked(cl.JTI) {
		return nil, fmt.Errorf("%w: revoked", ErrInvalidToken)
	}
	c, tenantActive := s.clients.lookup(cl.ClientID)
	switch {
	case c == nil || c.Tenant != cl.Tenant:
		return nil, fmt.Errorf("%w: client %s no longer exists", ErrInvalidToken, cl.ClientID)
	case c.Status != store.StatusActive:
		return nil, fmt.Errorf("%w: client %s disabled", ErrInvalidToken, cl.ClientID)
	case !tenantActive:
		return nil, fmt.Errorf("%w: tenant %s disabled", ErrInvalidToken, cl.Tenant)
	}
	return c, nil
}

// liveScopes returns the token's scopes the client still holds.
func liveScopes(cl *accessClaims, c *store.Client) []string {
	if cl.Scope == "" {
		return []string{}
	}
	return intersect(strings.Split(cl.Scope, " "), grantCeiling(c))
}
