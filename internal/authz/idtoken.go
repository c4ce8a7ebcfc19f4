package authz

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// DefaultIDTokenAlg is the ID token alg of a client without its own; OIDC
// Core §3.1.3.7 makes RS256 the one every relying party must accept.
const DefaultIDTokenAlg = "RS256"

// AlgSigner signs with a named algorithm; the keyring keeps keys of
// several so ID tokens can use RS256 while access tokens use ES256.
type AlgSigner interface {
	SignWith(alg, typ string, claims any) (string, error)
}

// idClaims are the claims of an ID token (OIDC Core §2, §5.1).
type idClaims struct {
	Issuer            string   `json:"iss"`
	Subject           string   `json:"sub"`
	Audience          string   `json:"aud"`
	ExpiresAt         int64    `json:"exp"`
	IssuedAt          int64    `json:"iat"`
	AuthTime          int64    `json:"auth_time"`
	Nonce             string   `json:"nonce,omitempty"`
	AccessTokenHash   string   `json:"at_hash,omitempty"`
	SessionID         string   `json:"sid,omitempty"`
	AuthorizedParty   string   `json:"azp,omitempty"`
	Tenant            string   `json:"tenant"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Roles             []string `json:"roles,omitempty"`
}

// idTokenTTL is the lifetime of ID tokens: they prove a sign-in to the
// client once; they are not for calling APIs.
const idTokenTTL = time.Hour

// idToken signs an ID token for a person's grant, in the client's alg.
func (s *Server) idToken(c *store.Client, p *personGrant, scopes []string, accessToken string, now time.Time) (string, error) {
	alg := c.IDTokenAlg
	if alg == "" {
		alg = DefaultIDTokenAlg
	}
	as, ok := s.signer.(AlgSigner)
	if !ok {
		return "", fmt.Errorf("signer cannot sign ID tokens with %s", alg)
	}
	atHash, err := halfHash(alg, accessToken)
	if err != nil {
		return "", err
	}
	cl := idClaims{
		Issuer: s.cfg.Issuer, Subject: p.user.ID, Audience: c.ID,
		ExpiresAt: now.Add(idTokenTTL).Unix(), IssuedAt: now.Unix(), AuthTime: p.authTime.Unix(),
		Nonce: p.nonce, AccessTokenHash: atHash, SessionID: p.sessionID, Tenant: p.user.Tenant,
	}
	addUserClaims(&cl, p.user, scopes)
	tok, err := as.SignWith(alg, "JWT", &cl)
	if err != nil {
		return "", fmt.Errorf("sign ID token for client %s: %w", c.ID, err)
	}
	return tok, nil
}

// addUserClaims adds the claims of the profile and email scopes (OIDC Core
// §5.4). keyshift does not verify addresses, so email_verified is false.
func addUserClaims(cl *idClaims, u store.User, scopes []string) {
	if slices.Contains(scopes, oauth.ScopeProfile) {
		cl.Name = u.Name
		cl.PreferredUsername = u.Login
		cl.Roles = u.Roles
	}
	if slices.Contains(scopes, oauth.ScopeEmail) && u.Email != "" {
		f := false
		cl.Email, cl.EmailVerified = u.Email, &f
	}
}

// halfHash is at_hash / c_hash: the left half of the hash of the ASCII
// token, with the hash of the signing alg (OIDC Core §3.1.3.6); EdDSA over
// Ed25519 uses SHA-512 as the OpenID Foundation's registry says.
func halfHash(alg, token string) (string, error) {
	var h hash.Hash
	switch alg {
	case "RS256", "ES256", "PS256":
		h = sha256.New()
	case "EdDSA":
		h = sha512.New()
	default:
		return "", fmt.Errorf("no at_hash rule for alg %s", alg)
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}
