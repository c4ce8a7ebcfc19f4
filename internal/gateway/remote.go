package gateway

import (
	"time"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/oauth"
)

// RemoteGuardConfig returns the guard configuration of a gateway running
// apart from keyshift (`keyshift gateway`): tokens verified against the
// issuer's JWKS, legacy keys checked and tokens re-checked by introspection
// as clientID, answers reused for cacheTTL (0: guard's default, 30 s).
func RemoteGuardConfig(issuer, clientID, clientSecret string, cacheTTL time.Duration) guard.Config {
	remote := guard.RemoteKeys(issuer+oauth.PathIntrospect, clientID, clientSecret, cacheTTL)
	return guard.Config{
		Issuer:            issuer,
		JWKSURL:           issuer + oauth.PathJWKS,
		KeyChecker:        remote,
		TokenIntrospector: remote,
		IntrospectEvery:   cacheTTL,
	}
}
