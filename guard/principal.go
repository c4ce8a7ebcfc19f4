package guard

import (
	"context"
	"slices"
	"time"
)

// Kind says which kind of credential a request presented.
type Kind string

// Kinds of credentials.
const (
	// KindToken is an OAuth 2.0 bearer access token.
	KindToken Kind = "token"
	// KindAPIKey is a legacy API key.
	KindAPIKey Kind = "api_key"
)

// Principal is who a request acts for, as its credential says. Principals
// are shared between requests presenting the same credential: treat the
// slices as read-only.
type Principal struct {
	// Kind is the credential kind: KindToken or KindAPIKey.
	Kind Kind
	// Tenant is the customer the credential belongs to.
	Tenant string
	// ClientID is the OAuth client of a token; empty for a key.
	ClientID string
	// Subject is the token's sub claim; for a key, its key id.
	Subject string
	// Scopes are the token's scopes, or those a key's permissions map to.
	Scopes []string
	// TokenID is the token's jti; empty for a key.
	TokenID string
	// ExpiresAt is the token's expiry; zero for a key.
	ExpiresAt time.Time
	// KeyID identifies a legacy key; empty for a token.
	KeyID string
	// Permissions are a legacy key's permissions; none means every API.
	Permissions []string
}

// HasScopes reports whether the principal holds every scope in want.
func (p *Principal) HasScopes(want []string) bool {
	for _, s := range want {
		if !slices.Contains(p.Scopes, s) {
			return false
		}
	}
	return true
}

// HasPermissions reports whether a key principal holds every permission in
// want; a key without permissions holds all of them, as legacy keys did.
func (p *Principal) HasPermissions(want []string) bool {
	if len(p.Permissions) == 0 {
		return true
	}
	for _, s := range want {
		if !slices.Contains(p.Permissions, s) {
			return false
		}
	}
	return true
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p, as the guard's middleware
// does; useful to test handlers without a guard.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the guard put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok || p == nil {
		return Principal{}, false
	}
	return *p, true
}
