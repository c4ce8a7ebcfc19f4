package authz

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	resp, label, c, err := s.token(w, r)
	outcome := "issued"
	if err != nil {
		outcome = oauth.CodeServerError
		var e *Error
		if errors.As(err, &e) {
			outcome = e.Code
		}
		if outcome != oauth.CodeInvalidClient && outcome != oauth.CodeServerError &&
			outcome != oauth.CodeAuthorizationPending && outcome != oauth.CodeSlowDown {
			// A device polling for its approval is not news.
			// Authentication failures and internal errors are logged where
			// they happen.
			clientID := ""
			if c != nil {
				clientID = c.ID
			}
			s.log.Info("token request refused", "error", outcome, "client_id", clientID, "remote_addr", remoteAddr(r))
		}
		writeError(w, s.log, err)
	} else {
		writeJSON(w, http.StatusOK, resp)
		s.log.Debug("token issued", "client_id", c.ID, "tenant", c.Tenant, "scope", resp.Scope)
	}
	s.metrics.tokenRequests.WithLabelValues(label, outcome).Inc()
	s.metrics.tokenDuration.WithLabelValues(label).Observe(time.Since(start).Seconds())
}

// token runs the shared steps of every grant in order: framing, grant type
// present, client authentication, grant known and allowed, scope syntax,
// the grant's decision, the client's scope ceiling, signing. It returns the
// bounded grant label for metrics alongside the result.
func (s *Server) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, string, *store.Client, error) {
	f, e := readForm(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		return nil, "none", nil, e
	}
	gt := f.get("grant_type")
	g, known := s.grants[gt]
	label := grantLabel(gt, known)
	if gt == "" {
		return nil, label, nil, errInvalidRequest("missing grant_type")
	}
	cred, e := parseClientCredentials(r.Header, f)
	if e != nil {
		return nil, label, nil, e
	}
	c, e := s.authenticateClient(r, cred, "token")
	if e != nil {
		return nil, label, nil, e
	}
	if !known {
		return nil, label, c, &Error{Code: oauth.CodeUnsupportedGrantType, Description: "grant_type not supported", Status: http.StatusBadRequest}
	}
	if !slices.Contains(c.GrantTypes, gt) {
		return nil, label, c, &Error{Code: oauth.CodeUnauthorizedClient, Description: "the client may not use grant_type " + gt, Status: http.StatusBadRequest}
	}
	scopes, err := parseScope(f.get("scope"))
	if err != nil {
		return nil, label, c, errInvalidScope(err.Error())
	}
	req := &tokenRequest{grantType: gt, form: f, scopes: scopes}
	iss, err := g.handle(r.Context(), req, c)
	if err != nil {
		return nil, label, c, err
	}
	if refused := outside(iss.scopes, grantCeiling(c)); len(refused) > 0 {
		// A grant handing out more than the client holds is a bug, not a
		// client error; refuse rather than sign it.
		return nil, label, c, fmt.Errorf("grant %s issued scopes outside client %s: %v", gt, c.ID, refused)
	}
	resp, err := s.issue(c, iss, s.cfg.Now())
	return resp, label, c, err
}

// issue signs an RFC 9068 access token for the decision iss and, for a
// person, hands out the grant's refresh token and an ID token with openid.
func (s *Server) issue(c *store.Client, iss issuance, now time.Time) (*tokenResponse, error) {
	ttl := s.accessTTL(c, iss.person != nil)
	tenant := c.Tenant
	var jti string
	if p := iss.person; p != nil {
		tenant, jti = p.user.Tenant, p.jti
	}
	if jti == "" {
		var err error
		if jti, err = newJTI(); err != nil {
			return nil, err
		}
	}
	scope := strings.Join(iss.scopes, " ")
	claims := accessClaims{
		Issuer:    s.cfg.Issuer,
		Subject:   iss.subject,
		Audience:  s.aud,
		ExpiresAt: now.Add(ttl).Unix(),
		IssuedAt:  now.Unix(),
		JTI:       jti,
		ClientID:  c.ID,
		Scope:     scope,
		Tenant:    tenant,
	}
	tok, err := s.signer.Sign(oauth.TokenTypeAccessJWT, &claims)
	if err != nil {
		return nil, fmt.Errorf("sign access token for client %s: %w", c.ID, err)
	}
	resp := &tokenResponse{AccessToken: tok, TokenType: oauth.TokenTypeBearer, ExpiresIn: int64(ttl / time.Second), Scope: scope}
	if p := iss.person; p != nil {
		resp.RefreshToken = p.refreshToken
		if slices.Contains(iss.scopes, oauth.ScopeOpenID) {
			if resp.IDToken, err = s.idToken(c, p, iss.scopes, tok, now); err != nil {
				return nil, err
			}
		}
	}
	return resp, nil
}

// accessTTL is the lifetime of an access token for client c: the client's
// own or the default, and for a person at most PersonTokenTTL (a refresh
// token renews it, and a short life bounds what a stolen one is worth).
func (s *Server) accessTTL(c *store.Client, person bool) time.Duration {
	ttl := c.AccessTokenTTL
	if ttl <= 0 {
		ttl = s.cfg.DefaultTokenTTL
	}
	if person && ttl > s.cfg.PersonTokenTTL {
		ttl = s.cfg.PersonTokenTTL
	}
	return ttl
}

// newJTI returns a random 128-bit token id, base64url without padding.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
