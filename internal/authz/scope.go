package authz

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Scope limits: generous for real catalogues, small enough that a hostile
// scope parameter costs little.
const (
	maxScopes      = 100
	maxScopeTokLen = 200
)

var errScope = errors.New("malformed scope")

// parseScope parses a scope parameter (RFC 6749 §3.3): scope-tokens of
// NQCHAR (%x21 / %x23-5B / %x5D-7E) separated by single spaces. Repeated
// tokens are dropped, order kept. An empty string yields no scopes.
func parseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			return nil, fmt.Errorf("%w: scopes must be separated by single spaces", errScope)
		}
		if len(tok) > maxScopeTokLen {
			return nil, fmt.Errorf("%w: scope longer than %d characters", errScope, maxScopeTokLen)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return nil, fmt.Errorf("%w: invalid character in scope", errScope)
			}
		}
		if slices.Contains(out, tok) {
			continue
		}
		if len(out) == maxScopes {
			return nil, fmt.Errorf("%w: more than %d scopes", errScope, maxScopes)
		}
		out = append(out, tok)
	}
	return out, nil
}

// allowedScopes is what a client may be granted: its scopes, less
// keyshift:admin unless it belongs to the platform tenant (a tenant client
// given it by mistake must not become an operator).
func allowedScopes(c *store.Client) []string {
	if c.Tenant == store.PlatformTenant || !slices.Contains(c.Scopes, oauth.ScopeAdmin) {
		return c.Scopes
	}
	out := make([]string, 0, len(c.Scopes))
	for _, s := range c.Scopes {
		if s != oauth.ScopeAdmin {
			out = append(out, s)
		}
	}
	return out
}

// outside returns the scopes of want that are not in have.
func outside(want, have []string) []string {
	var out []string
	for _, s := range want {
		if !slices.Contains(have, s) {
			out = append(out, s)
		}
	}
	return out
}

// intersect returns the scopes of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// joinScopes writes scopes as a scope parameter value.
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }

// grantCeiling is the most any grant may issue to client c: its scopes
// (less keyshift:admin outside the platform tenant) and, for clients of
// the flows for people, the OpenID Connect scopes.
func grantCeiling(c *store.Client) []string {
	allowed := allowedScopes(c)
	if !slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode) && !slices.Contains(c.GrantTypes, oauth.GrantDeviceCode) {
		return allowed
	}
	return authorizableScopes(&clientView{scopes: allowed, grantTypes: c.GrantTypes})
}
