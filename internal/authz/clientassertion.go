package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Client assertion rules (RFC 7523 §3, OIDC Core §9).
const (
	// maxAssertionLen bounds the assertion we parse; real ones are well
	// under 2 KiB even with an RSA 4096 signature.
	maxAssertionLen = 8 << 10
	// assertionLeeway absorbs clock skew between client and server.
	assertionLeeway = 60 * time.Second
	// maxAssertionLifetime bounds exp ahead of iat and of now. An assertion
	// is used once (its jti is kept until exp), but clients make it with
	// the lifetime their library picks: Spring Security and openid-client
	// 60 s, MSAL 10 min, github.com/zitadel/oidc and Authlib 1 h. One hour
	// is also the most Okta and Google accept, so every RP library built
	// for them fits; longer would only lengthen the replay records.
	maxAssertionLifetime     = time.Hour
	maxAssertionLifetimeText = "1 hour"
	maxJTILen                = 256
	// maxKeysTried bounds signature checks of an assertion without a kid.
	maxKeysTried = 10
	// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3).
	minRSABits = 2048
)

// assertionAlgs are the JWS algorithms accepted for client assertions:
// asymmetric only. "none" and HMAC (whose key would be the client's public
// key, or a secret keyshift does not keep) are refused by the parser.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}

// TokenEndpointAuthSigningAlgs lists the JWS algorithms accepted for
// private_key_jwt, for token_endpoint_auth_signing_alg_values_supported.
func TokenEndpointAuthSigningAlgs() []string {
	out := make([]string, len(assertionAlgs))
	for i, a := range assertionAlgs {
		out[i] = string(a)
	}
	return out
}

// errAssertion is why an assertion was refused; it goes to the log only.
type errAssertion string

func (e errAssertion) Error() string { return string(e) }

// assertionClaims are the claims of a client assertion that keyshift checks.
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	JTI       string           `json:"jti"`
}

// parseAssertion parses a compact JWS with an accepted algorithm and
// returns it with the client id its payload claims, unverified: the id only
// selects the client whose keys then verify it. A malformed assertion
// returns nil.
func parseAssertion(s string) (*jose.JSONWebSignature, string) {
	if len(s) > maxAssertionLen {
		return nil, ""
	}
	jws, err := jose.ParseSignedCompact(s, assertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ""
	}
	var c struct {
		Subject string `json:"sub"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, ""
	}
	return jws, c.Subject
}

// assertionVerifier checks private_key_jwt assertions against the keys
// clients registered by value or by URI.
type assertionVerifier struct {
	st   store.Store
	uris *jwksFetcher
	now  func() time.Time
	log  *slog.Logger
	// audiences are the "aud" values naming this server: the issuer and
	// the token endpoint URL.
	audiences []string
}

func newAssertionVerifier(cfg Config, st store.Store) *assertionVerifier {
	return &assertionVerifier{
		st:        st,
		uris:      newJWKSFetcher(cfg.Now, cfg.AllowPrivateJWKSURIs),
		now:       cfg.Now,
		log:       cfg.Logger,
		audiences: []string{cfg.Issuer, cfg.Issuer + oauth.PathToken},
	}
}

// verify checks jws as an assertion of client c, already known to be an
// active private_key_jwt client, and records its jti so it is accepted once.
// A refused assertion returns an errAssertion; any other error is the
// store's.
func (v *assertionVerifier) verify(ctx context.Context, c *store.Client, jws *jose.JSONWebSignature) error {
	payload, err := v.checkSignature(ctx, c, jws)
	if err != nil {
		return err
	}
	var cl assertionClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return errAssertion("claims are not a JSON object of the expected types")
	}
	exp, err := v.checkClaims(c.ID, &cl)
	if err != nil {
		return err
	}
	// Kept until the assertion could no longer pass the checks above.
	err = v.st.Tx(ctx, func(tx store.Tx) error {
		return tx.UseClientAssertion(ctx, c.ID, cl.JTI, exp.Add(assertionLeeway))
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return errAssertion("jti already used")
	}
	if err != nil {
		return fmt.Errorf("record assertion of client %s: %w", c.ID, err)
	}
	return nil
}

// checkClaims applies RFC 7523 §3 to verified claims and returns exp. iat
// is optional, as RFC 7523 §3 has it (MSAL and some others send nbf
// instead); without it, exp is bounded from now alone.
func (v *assertionVerifier) checkClaims(clientID string, cl *assertionClaims) (time.Time, error) {
	now := v.now()
	switch {
	case cl.Issuer != clientID || cl.Subject != clientID:
		return time.Time{}, errAssertion("iss and sub must both be the client_id")
	case !v.audienceOK(cl.Audience):
		return time.Time{}, errAssertion("aud must contain the issuer or the token endpoint URL")
	case cl.ExpiresAt == nil:
		return time.Time{}, errAssertion("exp is required")
	case cl.JTI == "":
		return time.Time{}, errAssertion("jti is required")
	case len(cl.JTI) > maxJTILen:
		return time.Time{}, errAssertion("jti is too long")
	}
	exp := cl.ExpiresAt.Time()
	switch {
	case !now.Before(exp.Add(assertionLeeway)):
		return time.Time{}, errAssertion("expired")
	case exp.After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return time.Time{}, errAssertion("exp is more than " + maxAssertionLifetimeText + " ahead")
	case cl.NotBefore != nil && cl.NotBefore.Time().After(now.Add(assertionLeeway)):
		return time.Time{}, errAssertion("not valid yet (nbf)")
	}
	if cl.IssuedAt != nil {
		iat := cl.IssuedAt.Time()
		switch {
		case iat.After(now.Add(assertionLeeway)):
			return time.Time{}, errAssertion("iat is in the future")
		case exp.Sub(iat) > maxAssertionLifetime+assertionLeeway:
			return time.Time{}, errAssertion("exp is more than " + maxAssertionLifetimeText + " after iat")
		}
	}
	return exp, nil
}

func (v *assertionVerifier) audienceOK(aud jwt.Audience) bool {
	for _, a := range v.audiences {
		if aud.Contains(a) {
			return true
		}
	}
	return false
}

// checkSignature verifies jws with the client's keys and returns its
// payload. The key is the one named by kid, else each compatible key in
// turn. A kid unknown at the client's jwks_uri makes one refetch (rate
// limited by the fetcher), for a client that has just rotated its keys.
func (v *assertionVerifier) checkSignature(ctx context.Context, c *store.Client, jws *jose.JSONWebSignature) ([]byte, error) {
	hdr := jws.Signatures[0].Header
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	if !assertionTyp(hdr) {
		return nil, errAssertion("typ names another kind of JWT")
	}
	var keys []jose.JSONWebKey
	var err error
	switch {
	case len(c.JWKS) > 0:
		keys, err = parseJWKS(c.JWKS)
		if err != nil {
			return nil, errAssertion("registered jwks unusable: " + err.Error())
		}
	case c.JWKSURI != "":
		if keys, err = v.uris.keys(ctx, c.JWKSURI, false); err != nil {
			return nil, err
		}
		if hdr.KeyID != "" && !hasKeyID(keys, hdr.KeyID) {
			if keys, err = v.uris.keys(ctx, c.JWKSURI, true); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errAssertion("client has no registered keys")
	}
	tried := 0
	for i := range keys {
		k := &keys[i]
		if (hdr.KeyID != "" && k.KeyID != hdr.KeyID) || !keyFits(k, alg) {
			continue
		}
		if tried++; tried > maxKeysTried {
			break
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	if tried == 0 {
		return nil, errAssertion(fmt.Sprintf("no registered key for kid %q and alg %s", hdr.KeyID, alg))
	}
	return nil, errAssertion("signature does not verify")
}

// assertionTyp reports whether the JWS typ, when present, allows the JWT
// to be a client assertion: a JWT the client signed for another purpose
// (a DPoP proof, a request object, a logout token) with keyshift as its
// audience must not pass for one (RFC 8725 §3.11).
func assertionTyp(h jose.Header) bool {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == "" || typ == "jwt" || typ == "client-authentication+jwt"
}

func hasKeyID(keys []jose.JSONWebKey, kid string) bool {
	for i := range keys {
		if keys[i].KeyID == kid {
			return true
		}
	}
	return false
}

// keyFits reports whether k may verify a signature made with alg: the
// key type matches, its "alg" and "use", when given, allow it, and RSA
// keys are large enough.
func keyFits(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if (k.Algorithm != "" && k.Algorithm != string(alg)) || (k.Use != "" && k.Use != "sig") {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return (alg == jose.RS256 || alg == jose.PS256) && pub.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return alg == jose.ES256 && pub.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// parseJWKS reads a JWK Set of public keys. Private members are refused
// outright (someone published a private key); keys of a type or curve
// keyshift does not verify with are skipped, as RFC 7517 §5 asks.
func parseJWKS(raw []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New("not a JWK Set")
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, m := range set.Keys {
		if name := oauth.PrivateJWKMember(m); name != "" {
			return nil, fmt.Errorf("a key has the private member %q", name)
		}
		b, _ := json.Marshal(m) // re-encoding decoded JSON cannot fail
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(b); err != nil || !k.Valid() || !k.IsPublic() {
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}
