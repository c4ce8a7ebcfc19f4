package admin

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/weburl"
)

var (
	tenantIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	scopeNamePattern  = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+){2,}$`)
	permissionPattern = regexp.MustCompile(`^[a-z0-9_]+:[a-z0-9_]+$`)
)

// Length limits of free-text fields.
const (
	maxNameLen        = 200
	maxDescriptionLen = 1000
	maxLoginLen       = 128
	maxPersonNameLen  = 100
	maxEmailLen       = 254
	maxListLen        = 500 // scopes, permissions, redirect URIs
)

// builtinScopes are the scopes Bootstrap creates; they cannot be edited.
var builtinScopes = []struct{ name, description string }{
	{oauth.ScopeOpenID, "Sign in with OpenID Connect"},
	{oauth.ScopeProfile, "Read the user's name and profile"},
	{oauth.ScopeEmail, "Read the user's email address"},
	{oauth.ScopeOfflineAccess, "Stay signed in with a refresh token"},
	{oauth.ScopeAdmin, "Administer keyshift: every tenant, the scope catalogue and the signing keys"},
	{oauth.ScopeTenantAdmin, "Administer the client's own tenant"},
}

func isBuiltinScope(name string) bool {
	for _, b := range builtinScopes {
		if b.name == name {
			return true
		}
	}
	return false
}

// checkTenantID validates the identifier of a new tenant.
func checkTenantID(id string) string {
	switch {
	case id == "":
		return "is required"
	case !tenantIDPattern.MatchString(id):
		return "must be 2 to 63 lowercase letters, digits or hyphens, starting with a letter or digit"
	}
	return ""
}

// checkScopeName validates a catalogue scope name: service.object.right.
func checkScopeName(name string) string {
	if !scopeNamePattern.MatchString(name) {
		return "must be service.object.right: at least three dot-separated segments of lowercase letters, digits or underscores"
	}
	if len(name) > maxNameLen {
		return "is too long"
	}
	return ""
}

// checkText validates a free-text field: valid UTF-8, no control characters,
// at most max runes, and non-empty when required.
func checkText(v *validation, field, s string, max int, required bool) {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			v.add(field, "is required")
		} else if s != "" {
			v.add(field, "must not be only blanks")
		}
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.add(field, "is too long")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(field, "must not contain control characters")
	}
}

// checkEmail validates a plain address (no display name).
func checkEmail(v *validation, field, s string) {
	if s == "" {
		return
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > maxEmailLen {
		v.add(field, "must be a plain email address")
	}
}

// checkLogin validates a contact login: printable, no spaces.
func checkLogin(v *validation, field, s string) {
	if s == "" {
		return
	}
	if len(s) > maxLoginLen || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 || !utf8.ValidString(s) {
		v.add(field, "must be at most 128 characters without spaces")
	}
}

// checkRedirectURI applies RFC 9700 §2.1 and RFC 8252 §7: absolute, no
// fragment or credentials, and https, or http on the loopback interface, or
// a private-use scheme in reverse domain form (com.example.app:/cb) for
// native apps. Matching later is exact, so no normalisation happens here.
func checkRedirectURI(s string) string {
	if len(s) > weburl.MaxLen {
		return weburl.ErrTooLong.Error()
	}
	if u, err := url.Parse(s); err == nil && strings.Contains(u.Scheme, ".") {
		switch {
		case u.Fragment != "" || strings.Contains(s, "#"):
			return weburl.ErrFragment.Error()
		case u.User != nil:
			return weburl.ErrUserinfo.Error()
		case u.Opaque != "" || !strings.HasPrefix(u.Path, "/"):
			return "with a private-use scheme must have a path, such as com.example.app:/callback"
		}
		return ""
	}
	_, err := weburl.CheckSecure(s)
	if errors.Is(err, weburl.ErrInsecure) {
		return "must use https, http on a loopback address, or a private-use scheme such as com.example.app:/callback"
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// hasDuplicates reports whether list repeats a value.
func hasDuplicates(list []string) bool {
	seen := make(map[string]struct{}, len(list))
	for _, s := range list {
		if _, ok := seen[s]; ok {
			return true
		}
		seen[s] = struct{}{}
	}
	return false
}

func checkGrantTypes(v *validation, gts []string) {
	if len(gts) == 0 {
		v.add("grant_types", "at least one grant type is required")
	}
	known := oauth.GrantTypes()
	for i, g := range gts {
		if !slices.Contains(known, g) {
			v.add(fmt.Sprintf("grant_types[%d]", i), "must be one of "+strings.Join(known, ", "))
		}
	}
	if hasDuplicates(gts) {
		v.add("grant_types", "must not repeat a grant type")
	}
}

func checkAuthMethod(v *validation, m string) {
	if known := oauth.AuthMethods(); !slices.Contains(known, m) {
		v.add("token_endpoint_auth_method", "must be one of "+strings.Join(known, ", "))
	}
}

func checkIDTokenAlg(v *validation, alg string) {
	if alg != "" && !slices.Contains(idTokenAlgs, alg) {
		v.add("id_token_signed_response_alg", "must be one of "+strings.Join(idTokenAlgs, ", "))
	}
}

func checkJWKSURI(v *validation, s string) {
	if _, err := weburl.CheckSecure(s); err != nil {
		v.add("jwks_uri", err.Error())
	}
}

func checkURIList(v *validation, field string, uris []string) {
	if len(uris) > maxListLen {
		v.add(field, "too many URIs")
	}
	for i, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			v.add(fmt.Sprintf("%s[%d]", field, i), msg)
		}
	}
	if hasDuplicates(uris) {
		v.add(field, "must not repeat a URI")
	}
}

// checkClientShape checks the rules between fields of a client as it will
// be stored, after defaults (create) or the merge of a PATCH (update).
func checkClientShape(c store.Client) error {
	var v validation
	switch c.AuthMethod {
	case oauth.AuthNone:
		// A public client proves nothing, so it cannot act for itself.
		if slices.Contains(c.GrantTypes, oauth.GrantClientCredentials) {
			v.add("grant_types", `a public client ("none") cannot use client_credentials`)
		}
	case oauth.AuthPrivateKeyJWT:
		if (len(c.JWKS) > 0) == (c.JWKSURI != "") {
			v.add("jwks", "a private_key_jwt client needs exactly one of jwks and jwks_uri")
		}
	}
	if c.AuthMethod != oauth.AuthPrivateKeyJWT && (len(c.JWKS) > 0 || c.JWKSURI != "") {
		v.add("jwks", "jwks and jwks_uri are only for private_key_jwt clients")
	}
	if slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		v.add("redirect_uris", "at least one redirect URI is required for authorization_code")
	}
	if slices.Contains(c.GrantTypes, oauth.GrantRefreshToken) &&
		!slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode) && !slices.Contains(c.GrantTypes, oauth.GrantDeviceCode) {
		v.add("grant_types", "refresh_token needs authorization_code or device_code, the grants that issue refresh tokens")
	}
	return v.err()
}

func checkContact(v *validation, c store.Contact) {
	checkLogin(v, "contact.login", c.Login)
	checkText(v, "contact.first_name", c.FirstName, maxPersonNameLen, false)
	checkText(v, "contact.last_name", c.LastName, maxPersonNameLen, false)
	checkEmail(v, "contact.email", c.Email)
}

func checkTTL(v *validation, secs int) {
	if secs < minAccessTokenTTLSecond || secs > maxAccessTokenTTLSecond {
		v.add("access_token_ttl_seconds", fmt.Sprintf("must be between %d and %d", minAccessTokenTTLSecond, maxAccessTokenTTLSecond))
	}
}

func checkRedirectURIs(v *validation, uris []string) { checkURIList(v, "redirect_uris", uris) }

// checkScopeList checks the shape of a client's scope list; the catalogue
// check happens in the transaction (checkGrantable).
func checkScopeList(v *validation, scopes []string) {
	switch {
	case len(scopes) == 0:
		v.add("scopes", "at least one scope is required")
	case len(scopes) > maxListLen:
		v.add("scopes", "too many scopes")
	case hasDuplicates(scopes):
		v.add("scopes", "must not repeat a scope")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Limits of a client's JWK Set registered by value.
const (
	maxJWKSBytes = 16 << 10
	maxJWKSKeys  = 10
	minRSABits   = 2048
)

// jwkAlgs are the JWS algorithms keyshift verifies client assertions with,
// by key type.
var jwkAlgs = map[string][]string{"RSA": {"RS256", "PS256"}, "EC": {"ES256"}, "OKP": {"EdDSA"}}

// checkJWKS validates a client's JWK Set: a JSON object whose "keys" hold
// 1 to 10 public signature keys keyshift can verify with (RSA of at least
// 2048 bits, EC P-256, Ed25519), with distinct kids, required when there is
// more than one key. It returns the set compacted for storage.
func checkJWKS(v *validation, raw []byte) []byte {
	if len(raw) > maxJWKSBytes {
		v.add("jwks", fmt.Sprintf("must be at most %d bytes", maxJWKSBytes))
		return nil
	}
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || set.Keys == nil {
		v.add("jwks", `must be a JWK Set: a JSON object with a "keys" array`)
		return nil
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxJWKSKeys {
		v.add("jwks.keys", fmt.Sprintf("must hold 1 to %d keys", maxJWKSKeys))
		return nil
	}
	kids := map[string]bool{}
	for i, m := range set.Keys {
		field := fmt.Sprintf("jwks.keys[%d]", i)
		if msg := checkJWK(m); msg != "" {
			v.add(field, msg)
			continue
		}
		var kid string
		_ = json.Unmarshal(m["kid"], &kid) // checked by checkJWK
		switch {
		case kid == "" && len(set.Keys) > 1:
			v.add(field, "needs a kid when the set has more than one key")
		case kid != "" && kids[kid]:
			v.add(field, fmt.Sprintf("repeats kid %q", kid))
		}
		kids[kid] = true
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		v.add("jwks", "must be valid JSON")
		return nil
	}
	return buf.Bytes()
}

// checkJWK validates one key of a client's set; "" when it is fine.
func checkJWK(m map[string]json.RawMessage) string {
	if name := oauth.PrivateJWKMember(m); name != "" {
		return fmt.Sprintf("must be a public key: remove the private member %q", name)
	}
	var meta struct {
		Kty, Kid, Alg, Use string
	}
	b, _ := json.Marshal(m) // re-encoding decoded JSON cannot fail
	if err := json.Unmarshal(b, &meta); err != nil {
		return "kty, kid, alg and use must be strings"
	}
	algs, ok := jwkAlgs[meta.Kty]
	switch {
	case !ok:
		return `kty must be "RSA", "EC" or "OKP"`
	case meta.Alg != "" && !slices.Contains(algs, meta.Alg):
		return fmt.Sprintf("alg for kty %s must be one of %s", meta.Kty, strings.Join(algs, ", "))
	case meta.Use != "" && meta.Use != "sig":
		return `use must be "sig"`
	case len(meta.Kid) > 256:
		return "kid is too long"
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil || !k.Valid() || !k.IsPublic() {
		return "is not a valid public key"
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return fmt.Sprintf("RSA keys must have at least %d bits", minRSABits)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "EC keys must be on P-256 (ES256)"
		}
	case ed25519.PublicKey:
	default:
		return "OKP keys must be Ed25519"
	}
	return ""
}

// jwksThumbprints names the keys of a validated set for the audit log by
// their RFC 7638 thumbprints.
func jwksThumbprints(raw []byte) []string {
	var set jose.JSONWebKeySet
	if json.Unmarshal(raw, &set) != nil {
		return nil
	}
	out := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		if t, err := k.Thumbprint(crypto.SHA256); err == nil {
			out = append(out, base64.RawURLEncoding.EncodeToString(t))
		}
	}
	return out
}
