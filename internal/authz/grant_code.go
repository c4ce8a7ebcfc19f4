package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func errInvalidGrant(desc string) *Error {
	return &Error{Code: oauth.CodeInvalidGrant, Description: desc, Status: http.StatusBadRequest}
}

// authorizationCodeGrant is RFC 6749 §4.1.3 with PKCE (RFC 7636): a code is
// redeemed once, by the client it was issued to, with the redirect URI and
// the verifier of its challenge. A second redemption is taken as a sign the
// code leaked: it fails and revokes what the first one issued (RFC 6749
// §4.1.2, RFC 9700 §4.5).
type authorizationCodeGrant struct{ s *Server }

func (g authorizationCodeGrant) handle(ctx context.Context, req *tokenRequest, c *store.Client) (issuance, error) {
	s := g.s
	code, verifier, redirectURI := req.form.get("code"), req.form.get("code_verifier"), req.form.get("redirect_uri")
	if code == "" {
		return issuance{}, errInvalidRequest("code is missing")
	}
	if verifier == "" {
		return issuance{}, errInvalidRequest("code_verifier is missing (PKCE is required)")
	}
	if !validVerifier(verifier) {
		return issuance{}, errInvalidRequest("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")
	}
	if req.scopes != nil {
		return issuance{}, errInvalidRequest("scope is fixed by the authorization; do not send it with a code")
	}
	now := s.cfg.Now()
	h := credential.Hash(code)
	jti, err := newJTI()
	if err != nil {
		return issuance{}, err
	}
	var (
		iss    issuance
		replay bool
	)
	err = s.st.Tx(ctx, func(tx store.Tx) error {
		var ac store.AuthCode
		err := tx.UpdateAuthCode(ctx, h[:], func(cur store.AuthCode) (store.AuthCode, error) {
			if cur.RedeemedAt != nil {
				replay, ac = true, cur
				return cur, nil
			}
			switch {
			case cur.ClientID != c.ID:
				return cur, errInvalidGrant("the code was issued to another client")
			case !now.Before(cur.ExpiresAt):
				return cur, errInvalidGrant("the code has expired")
			case cur.RedirectURI != redirectURI:
				return cur, errInvalidGrant("redirect_uri differs from the authorization request")
			case !pkceMatches(cur.CodeChallenge, verifier):
				return cur, errInvalidGrant("code_verifier does not match the code_challenge")
			}
			cur.RedeemedAt = &now
			cur.IssuedJTI = jti
			cur.IssuedExpiresAt = now.Add(s.accessTTL(c, true))
			ac = cur
			return cur, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errInvalidGrant("the code is unknown or has expired")
		}
		if err != nil {
			return err
		}
		if replay {
			return s.revokeCodeIssue(ctx, tx, ac, now)
		}
		u, err := tx.GetUser(ctx, ac.UserID)
		if err != nil || !s.userActive(u) {
			return errInvalidGrant("the user is no longer active")
		}
		p := &personGrant{user: u, authTime: ac.AuthTime, nonce: ac.Nonce, sessionID: ac.SessionID, jti: jti}
		scopes := intersect(ac.Scopes, grantCeiling(c))
		if wantsRefresh(c, scopes) {
			fam, tok, err := s.newRefreshFamily(c, u, ac.SessionID, ac.AuthTime, scopes, now)
			if err != nil {
				return err
			}
			if err := tx.CreateRefreshFamily(ctx, fam); err != nil {
				return fmt.Errorf("create refresh family: %w", err)
			}
			// The access token belongs to the family: it carries its jti.
			p.refreshToken, p.jti = tok, fam.LastJTI
			if err := tx.UpdateAuthCode(ctx, h[:], func(cur store.AuthCode) (store.AuthCode, error) {
				cur.IssuedFamily, cur.IssuedJTI = fam.ID, fam.LastJTI
				return cur, nil
			}); err != nil {
				return err
			}
		}
		iss = issuance{subject: u.ID, scopes: scopes, person: p}
		return nil
	})
	if err != nil {
		return issuance{}, err
	}
	if replay {
		s.metrics.grantsRevoked.WithLabelValues("code_replay").Inc()
		s.log.Warn("authorization code replayed; revoked what it issued", "client_id", c.ID)
		return issuance{}, errInvalidGrant("the code was already used")
	}
	return iss, nil
}

// revokeCodeIssue revokes the access token and refresh family a code
// issued when it was first redeemed.
func (s *Server) revokeCodeIssue(ctx context.Context, tx store.Tx, ac store.AuthCode, now time.Time) error {
	if ac.IssuedJTI != "" {
		if err := tx.CreateRevocation(ctx, store.Revocation{JTI: ac.IssuedJTI, Tenant: ac.Tenant, ClientID: ac.ClientID, RevokedAt: now, ExpiresAt: ac.IssuedExpiresAt}); err != nil {
			return fmt.Errorf("revoke replayed code's token: %w", err)
		}
	}
	if ac.IssuedFamily != "" {
		if err := s.revokeFamily(ctx, tx, ac.IssuedFamily, "code_replay", now); err != nil {
			return err
		}
	}
	return nil
}

// wantsRefresh reports whether a grant hands out a refresh token: only
// with offline_access, to a client registered for the refresh_token grant.
func wantsRefresh(c *store.Client, scopes []string) bool {
	return slices.Contains(scopes, oauth.ScopeOfflineAccess) && slices.Contains(c.GrantTypes, oauth.GrantRefreshToken)
}

// validVerifier checks a PKCE code_verifier (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// pkceMatches checks the verifier against an S256 challenge (RFC 7636 §4.6).
func pkceMatches(challenge, verifier string) bool {
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
