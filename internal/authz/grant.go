package authz

import (
	"context"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// grant is one grant type of the token endpoint. The endpoint runs the
// shared steps around it — request framing, client authentication, the
// client's permission to use the grant, scope syntax before and the
// client's scope ceiling after — so a grant only decides what to issue and
// cannot skip any of them, nor sign a token itself.
type grant interface {
	// handle decides the subject and scopes of the token for client c,
	// already authenticated and allowed this grant type, or returns an
	// *Error to refuse.
	handle(ctx context.Context, req *tokenRequest, c *store.Client) (issuance, error)
}

// issuance is a grant's decision: what the access token will say, and for
// a person, what goes with it.
type issuance struct {
	subject string
	scopes  []string
	// person is set by the grants where a person authorised the client; the
	// token's tenant is then theirs, and an ID token follows with openid.
	person *personGrant
}

// personGrant is what a grant for a person decided beyond the scopes.
type personGrant struct {
	user      store.User
	authTime  time.Time
	nonce     string
	sessionID string
	// jti is the access token id the grant recorded (so a code replay or a
	// refresh reuse can revoke it); refreshToken is returned as is.
	jti          string
	refreshToken string
}

// clientCredentialsGrant is RFC 6749 §4.4: the client acts for itself.
type clientCredentialsGrant struct{}

func (clientCredentialsGrant) handle(_ context.Context, req *tokenRequest, c *store.Client) (issuance, error) {
	allowed := allowedScopes(c)
	scopes := req.scopes
	if scopes == nil {
		// No scope requested: all of the client's (RFC 6749 §3.3 lets the
		// server choose a default; the client's registration is it).
		scopes = allowed
	} else if refused := outside(scopes, allowed); len(refused) > 0 {
		return issuance{}, errInvalidScope("scope not allowed for this client: " + strings.Join(refused, " "))
	}
	if len(scopes) == 0 {
		return issuance{}, errInvalidScope("the client has no scopes")
	}
	return issuance{subject: c.ID, scopes: scopes}, nil
}
