package authz

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// Refresh tokens (RFC 6749 §6, RFC 9700 §4.14) come in families: the code
// starts one, every use rotates it, and a token used again after its
// successor was issued revokes the whole family and its newest access
// tokens — whoever holds the stolen copy loses it, and the real client
// signs the person in again.
//
// A token is "ksr_<family>.<generation>.<mac>", mac an HMAC of family and
// generation under the server's refresh key. The store keeps only the
// SHA-256 of the current token; the MAC lets the server tell a genuine
// old token (reuse: revoke) from a guessed one (ignore), and recompute the
// current token for a client's concurrent request within the grace.
const refreshPrefix = "ksr_"

// maxRefreshTokenLen bounds what we parse.
const maxRefreshTokenLen = 128

func (s *Server) refreshMAC(family string, gen int) string {
	m := hmac.New(sha256.New, s.refreshKey)
	m.Write([]byte("refresh\x00"))
	m.Write([]byte(family))
	m.Write([]byte{0})
	m.Write([]byte(strconv.Itoa(gen)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) refreshToken(family string, gen int) string {
	return refreshPrefix + family + "." + strconv.Itoa(gen) + "." + s.refreshMAC(family, gen)
}

// parseRefreshToken returns the family and generation of a genuine token
// (one this server minted, current or not).
func (s *Server) parseRefreshToken(tok string) (family string, gen int, ok bool) {
	if len(tok) > maxRefreshTokenLen {
		return "", 0, false
	}
	rest, found := strings.CutPrefix(tok, refreshPrefix)
	if !found {
		return "", 0, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || parts[0] == "" {
		return "", 0, false
	}
	gen, err := strconv.Atoi(parts[1])
	if err != nil || gen < 1 || strconv.Itoa(gen) != parts[1] {
		return "", 0, false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(s.refreshMAC(parts[0], gen))) {
		return "", 0, false
	}
	return parts[0], gen, true
}

// Every access token issued from a family carries the family's grant id in
// its jti ("<grant id>.<random>"), so revoking the family revokes all of
// them with one revocation record, "grant:<grant id>", kept until the
// newest of them expires (RFC 7009 §2.1). The revocation set looks a jti up
// under both keys: two map lookups on the guard's hot path, and the record
// reaches other instances through the change feed like any revocation.
// The grant id is an HMAC of the family id, so a resource server that sees
// the access tokens learns nothing of the refresh token.
const grantRevocationPrefix = "grant:"

// grantID names family in its access tokens' jti.
func (s *Server) grantID(family string) string {
	m := hmac.New(sha256.New, s.refreshKey)
	m.Write([]byte("grant\x00"))
	m.Write([]byte(family))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// familyJTI returns a new jti for an access token issued from family.
func (s *Server) familyJTI(family string) (string, error) {
	r, err := newJTI()
	if err != nil {
		return "", err
	}
	return s.grantID(family) + "." + r, nil
}

// grantRevocationKey is the key under which a jti's family is revoked, or
// "" for a token outside any family.
func grantRevocationKey(jti string) string {
	g, _, ok := strings.Cut(jti, ".")
	if !ok || g == "" {
		return ""
	}
	return grantRevocationPrefix + g
}

// newRefreshFamily starts a family for a person's grant and returns it
// (with the jti of its first access token in LastJTI) and its first
// refresh token.
func (s *Server) newRefreshFamily(c *store.Client, u store.User, sessionID string, authTime time.Time, scopes []string, now time.Time) (store.RefreshFamily, string, error) {
	id := rand.Text()
	jti, err := s.familyJTI(id)
	if err != nil {
		return store.RefreshFamily{}, "", err
	}
	tok := s.refreshToken(id, 1)
	h := credential.Hash(tok)
	return store.RefreshFamily{
		ID: id, Tenant: u.Tenant, ClientID: c.ID, UserID: u.ID, SessionID: sessionID,
		Scopes: scopes, AuthTime: authTime, CurrentHash: h[:], RotatedAt: now, Generation: 1,
		LastJTI: jti, LastJTIExpiresAt: now.Add(s.accessTTL(c, true)),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL),
	}, tok, nil
}

// refreshTokenGrant is RFC 6749 §6 with rotation and reuse detection.
type refreshTokenGrant struct{ s *Server }

func (g refreshTokenGrant) handle(ctx context.Context, req *tokenRequest, c *store.Client) (issuance, error) {
	s := g.s
	raw := req.form.get("refresh_token")
	if raw == "" {
		return issuance{}, errInvalidRequest("refresh_token is missing")
	}
	family, gen, ok := s.parseRefreshToken(raw)
	if !ok {
		return issuance{}, errInvalidGrant("the refresh token is invalid")
	}
	now := s.cfg.Now()
	jti, err := s.familyJTI(family)
	if err != nil {
		return issuance{}, err
	}
	var (
		iss        issuance
		revokedFor string // why this request revoked the family, if it did
	)
	err = s.st.Tx(ctx, func(tx store.Tx) error {
		// The person first: a disabled user, a disabled tenant or a password
		// reset ends the family before anything rotates, revoking the
		// access token the client holds.
		cur, err := tx.GetRefreshFamily(ctx, family)
		if errors.Is(err, store.ErrNotFound) {
			return errInvalidGrant("the refresh token is unknown or has expired")
		}
		if err != nil {
			return err
		}
		var u store.User
		if cur.ClientID == c.ID && cur.RevokedAt == nil {
			var uerr error
			u, uerr = tx.GetUser(ctx, cur.UserID)
			if uerr != nil && !errors.Is(uerr, store.ErrNotFound) {
				return uerr
			}
			if uerr != nil || !s.userActive(u) || signedInBeforeReset(u, cur.AuthTime) {
				revokedFor = "user_inactive"
				return s.revokeFamily(ctx, tx, cur.ID, revokedFor, now)
			}
		}
		var fam store.RefreshFamily
		err = tx.UpdateRefreshFamily(ctx, family, func(f store.RefreshFamily) (store.RefreshFamily, error) {
			switch {
			case f.ClientID != c.ID:
				return f, errInvalidGrant("the refresh token was issued to another client")
			case f.RevokedAt != nil:
				return f, errInvalidGrant("the refresh token has been revoked")
			case !now.Before(f.ExpiresAt):
				return f, errInvalidGrant("the refresh token has expired; sign in again")
			}
			switch {
			case gen == f.Generation:
				f.Generation++
				f.PreviousHash = f.CurrentHash
				h := credential.Hash(s.refreshToken(f.ID, f.Generation))
				f.CurrentHash = h[:]
				f.RotatedAt = now
			case gen == f.Generation-1 && now.Sub(f.RotatedAt) <= s.cfg.RefreshReuseGrace:
				// The client's concurrent request: it gets the token its
				// twin got, and the family stays as it is.
			default:
				revokedFor = "refresh_reuse"
				f.RevokedAt, f.RevokeReason = &now, revokedFor
				fam = f
				return f, nil
			}
			f.LastJTI, f.LastJTIExpiresAt = jti, now.Add(s.accessTTL(c, true))
			fam = f
			return f, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errInvalidGrant("the refresh token is unknown or has expired")
		}
		if err != nil {
			return err
		}
		if revokedFor != "" {
			return s.revokeFamilyTokens(ctx, tx, fam, now)
		}
		scopes := intersect(fam.Scopes, grantCeiling(c))
		scopes = entitledScopes(scopes, u)
		if req.scopes != nil {
			// RFC 6749 §6: a narrower scope for this access token; the
			// family keeps what was granted.
			if refused := outside(req.scopes, scopes); len(refused) > 0 {
				return errInvalidScope("scope not granted by this refresh token: " + joinScopes(refused))
			}
			scopes = req.scopes
		}
		iss = issuance{subject: u.ID, scopes: scopes, person: &personGrant{
			user: u, authTime: fam.AuthTime, sessionID: fam.SessionID, jti: jti,
			refreshToken: s.refreshToken(fam.ID, fam.Generation),
		}}
		return nil
	})
	if err != nil {
		return issuance{}, err
	}
	switch revokedFor {
	case "":
		return iss, nil
	case "user_inactive":
		return issuance{}, errInvalidGrant("the user is no longer active")
	default:
		s.metrics.grantsRevoked.WithLabelValues(revokedFor).Inc()
		s.log.Warn("refresh token used again after rotation; revoked its family and its access tokens",
			"reason", revokedFor, "client_id", c.ID, "family", family)
		return issuance{}, errInvalidGrant("the refresh token was already used; sign in again")
	}
}

// revokeFamily marks a family revoked and revokes its access tokens.
func (s *Server) revokeFamily(ctx context.Context, tx store.Tx, id, reason string, now time.Time) error {
	var fam store.RefreshFamily
	err := tx.UpdateRefreshFamily(ctx, id, func(f store.RefreshFamily) (store.RefreshFamily, error) {
		if f.RevokedAt == nil {
			f.RevokedAt, f.RevokeReason = &now, reason
		}
		fam = f
		return f, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // expired and collected: nothing left to revoke
	}
	if err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return s.revokeFamilyTokens(ctx, tx, fam, now)
}

// revokeFamilyTokens revokes every access token issued from f: by its grant
// id until the latest any of them can expire (none is issued after now, and
// none lives longer than PersonTokenTTL), and the newest by its jti, which
// covers a token issued before jtis carried the grant id.
func (s *Server) revokeFamilyTokens(ctx context.Context, tx store.Tx, f store.RefreshFamily, now time.Time) error {
	until := now.Add(s.cfg.PersonTokenTTL)
	if f.LastJTIExpiresAt.After(until) {
		until = f.LastJTIExpiresAt
	}
	err := tx.CreateRevocation(ctx, store.Revocation{JTI: grantRevocationPrefix + s.grantID(f.ID), Tenant: f.Tenant, ClientID: f.ClientID, RevokedAt: now, ExpiresAt: until})
	if err != nil {
		return fmt.Errorf("revoke family's access tokens: %w", err)
	}
	if f.LastJTI == "" || !now.Before(f.LastJTIExpiresAt) {
		return nil
	}
	err = tx.CreateRevocation(ctx, store.Revocation{JTI: f.LastJTI, Tenant: f.Tenant, ClientID: f.ClientID, RevokedAt: now, ExpiresAt: f.LastJTIExpiresAt})
	if err != nil {
		return fmt.Errorf("revoke family's newest access token: %w", err)
	}
	return nil
}
