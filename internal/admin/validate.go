package admin

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

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
	{ScopeOpenID, "Sign in with OpenID Connect"},
	{ScopeProfile, "Read the user's name and profile"},
	{ScopeEmail, "Read the user's email address"},
	{ScopeOfflineAccess, "Stay signed in with a refresh token"},
	{ScopeAdmin, "Administer keyshift: every tenant, the scope catalogue and the signing keys"},
	{ScopeTenantAdmin, "Administer the client's own tenant"},
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

// checkRedirectURI applies RFC 9700 §2.1: absolute, no fragment, https
// unless it points at the loopback interface (native apps, RFC 8252 §7.3).
// Matching later is exact, so no normalisation happens here.
func checkRedirectURI(s string) string {
	if _, err := weburl.CheckSecure(s); err != nil {
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
	for i, g := range gts {
		if g != GrantClientCredentials {
			v.add(fmt.Sprintf("grant_types[%d]", i), `only "client_credentials" is supported`)
		}
	}
	if hasDuplicates(gts) {
		v.add("grant_types", "must not repeat a grant type")
	}
}

func checkAuthMethod(v *validation, m string) {
	if m != AuthClientSecretBasic && m != AuthClientSecretPost {
		v.add("token_endpoint_auth_method", `must be "client_secret_basic" or "client_secret_post"`)
	}
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

func checkRedirectURIs(v *validation, uris []string) {
	if len(uris) > maxListLen {
		v.add("redirect_uris", "too many redirect URIs")
	}
	for i, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			v.add(fmt.Sprintf("redirect_uris[%d]", i), msg)
		}
	}
	if hasDuplicates(uris) {
		v.add("redirect_uris", "must not repeat a URI")
	}
}

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
