package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// algorithms are the signature algorithms the guard accepts: keyshift signs
// with ES256 or EdDSA; RS256 is there for other issuers. "none" and HMAC
// are refused at parse time, so a token "signed" with a public key as an
// HMAC secret never reaches verification.
var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

func allowedAlg(alg string) bool {
	return slices.Contains(algorithms, jose.SignatureAlgorithm(alg))
}

// claims are the RFC 9068 access token claims the guard reads.
type claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	ExpiresAt *int64   `json:"exp"`
	NotBefore *int64   `json:"nbf"`
	IssuedAt  *int64   `json:"iat"`
	JTI       string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	Tenant    string   `json:"tenant"`
}

// audience is "aud": a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

// UnmarshalJSON reads a string or an array of strings.
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

// verified is a verified token: its principal and the facts the cache and
// the status checks need.
type verified struct {
	principal *Principal
	notBefore time.Time // zero when absent
	expires   time.Time
	// For a TokenIntrospector: when the token was last introspected
	// (unix ns; 0 never) and whether it was inactive then.
	checked  atomic.Int64
	inactive atomic.Bool
}

// verifyToken checks token's signature, typ, issuer, audience and lifetime
// (at now, with the leeway) and returns its principal. It does not consult
// revocations or the token cache.
func (g *Guard) verifyToken(ctx context.Context, token string, now time.Time) (*verified, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, tokenError("the access token is empty or too long", nil)
	}
	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil {
		return nil, tokenError("the access token is malformed or uses a refused algorithm", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, tokenError("the access token is malformed", nil)
	}
	h := jws.Signatures[0].Protected
	if !isAccessTokenType(h.ExtraHeaders[jose.HeaderType]) {
		return nil, tokenError("the token is not an access token (typ at+jwt)", nil)
	}
	key, err := g.keys.key(ctx, h.KeyID)
	if err != nil {
		return nil, tokenError("the access token is signed with an unknown key", err)
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, tokenError("the access token's algorithm does not match its key", nil)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, tokenError("the access token's signature is invalid", err)
	}
	var cl claims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, tokenError("the access token's claims are malformed", err)
	}
	return g.checkClaims(&cl, now)
}

// isAccessTokenType reports whether typ is RFC 9068's "at+jwt", possibly
// written as the full media type.
func isAccessTokenType(typ any) bool {
	s, ok := typ.(string)
	if !ok {
		return false
	}
	s = strings.TrimPrefix(strings.ToLower(s), "application/")
	return s == "at+jwt"
}

// checkClaims checks the claims of a token whose signature is good.
func (g *Guard) checkClaims(cl *claims, now time.Time) (*verified, error) {
	switch {
	case cl.Issuer != g.cfg.Issuer:
		return nil, tokenError("the access token is from another issuer", fmt.Errorf("iss %q", cl.Issuer))
	case !slices.Contains(cl.Audience, g.cfg.Audience):
		return nil, tokenError("the access token is not meant for this API (aud)", nil)
	case cl.ExpiresAt == nil:
		return nil, tokenError("the access token has no expiry", nil)
	case cl.Subject == "" || cl.ClientID == "" || cl.JTI == "" || cl.IssuedAt == nil:
		return nil, tokenError("the access token lacks a required claim (sub, client_id, jti, iat)", nil)
	}
	v := &verified{expires: time.Unix(*cl.ExpiresAt, 0)}
	if cl.NotBefore != nil {
		v.notBefore = time.Unix(*cl.NotBefore, 0)
	}
	if e := g.checkLifetime(v, now); e != nil {
		return nil, e
	}
	var scopes []string
	if cl.Scope != "" {
		scopes = strings.Fields(cl.Scope)
	}
	v.principal = &Principal{
		Kind: KindToken, Tenant: cl.Tenant, ClientID: cl.ClientID, Subject: cl.Subject,
		Scopes: scopes, TokenID: cl.JTI, ExpiresAt: v.expires,
	}
	return v, nil
}

// checkLifetime refuses a token expired or not yet valid at now, beyond the
// leeway.
func (g *Guard) checkLifetime(v *verified, now time.Time) *Error {
	if !now.Before(v.expires.Add(g.cfg.Leeway)) {
		return tokenError("the access token has expired", nil)
	}
	if !v.notBefore.IsZero() && now.Add(g.cfg.Leeway).Before(v.notBefore) {
		return tokenError("the access token is not valid yet", nil)
	}
	return nil
}

// checkStatus refuses a revoked token or one whose client was disabled.
func (g *Guard) checkStatus(p *Principal) *Error {
	if g.cfg.TokenStatus == nil {
		return nil
	}
	if g.cfg.TokenStatus.Revoked(p.TokenID) {
		return errRevoked
	}
	if !g.cfg.TokenStatus.ClientActive(p.ClientID) {
		return errClientInactive
	}
	return nil
}

// introspect asks the TokenIntrospector about a token when its last answer
// is older than IntrospectEvery. Concurrent requests with the token do not
// wait for a renewal one of them makes; they use the previous answer. An
// introspection that fails keeps the previous answer (or, for a token never
// introspected, admits the verified token): the guard does not make the
// authorization server a hard dependency of every request.
func (g *Guard) introspect(ctx context.Context, token string, v *verified, now time.Time) *Error {
	ti := g.cfg.TokenIntrospector
	if ti == nil {
		return nil
	}
	last, ns := v.checked.Load(), now.UnixNano()
	if (last == 0 || ns-last >= int64(g.cfg.IntrospectEvery)) && v.checked.CompareAndSwap(last, ns) {
		active, err := ti.IntrospectToken(ctx, token)
		if err != nil {
			g.log.Warn("guard: token introspection failed; using the last answer", "err", err)
		} else {
			v.inactive.Store(!active)
		}
	}
	if v.inactive.Load() {
		return errInactive
	}
	return nil
}

var (
	errInactive       = tokenError("the access token has been revoked or its client disabled", nil)
	errRevoked        = tokenError("the access token has been revoked", nil)
	errClientInactive = tokenError("the access token's client is disabled", nil)
)
