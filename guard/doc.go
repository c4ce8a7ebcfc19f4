// Package guard protects HTTP APIs with keyshift credentials: OAuth 2.0
// bearer access tokens (RFC 9068 JWTs) and, while the platform's sunset
// timeline allows, legacy API keys.
//
// A Guard verifies a bearer token's signature against the issuer's JSON Web
// Key Set (fetched, cached and refetched when a token names an unknown key,
// so signing-key rotation refuses nothing valid), checks its type, issuer,
// audience and lifetime, and remembers the result under the SHA-256 of the
// token, so that in the steady state a request costs a map lookup. Inside
// keyshift the key set comes from a KeySetSource instead of HTTP.
//
// Revoked tokens and disabled clients are refused through a TokenStatus
// consulted on every request (in process, fed by keyshift's change feed), or
// through a TokenIntrospector asked at most every IntrospectEvery per token
// (remotely: *Remote).
//
// Legacy keys are checked through a KeyChecker: RemoteKeys asks a keyshift
// server by token introspection (RFC 7662, token_type_hint=api_key), and
// keyshift checks keys in process against its registry and timeline. Every
// answer to a key carries the Deprecation (RFC 9745), Sunset (RFC 8594) and
// Link headers that tell its user the key is going away; a refused key gets
// HTTP 401 with a JSON body saying why and where to go.
//
// Token errors follow RFC 6750: 401 with
// `WWW-Authenticate: Bearer realm="…", error="invalid_token"`, 403 with
// error="insufficient_scope" and the scope needed.
//
// The package imports nothing from keyshift's internals: services outside
// keyshift use it as they are.
package guard
