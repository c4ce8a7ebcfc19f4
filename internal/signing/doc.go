// Package signing manages keyshift's JWS signing keys and issues and checks
// the JWTs signed with them.
//
// The keyring keeps keys of several algorithms (ES256, EdDSA, RS256): a
// primary one, which Sign uses for access tokens (Config.Alg, ES256 by
// default), and extra ones for SignWith (Config.ExtraAlgs; by default
// RS256, OpenID Connect's default ID token algorithm). Every instance
// sharing a store must keep the same algorithms.
//
// Each algorithm's keys move on their own through three states kept in the
// store: a next key is published in the JWKS for a pre-publication period
// before it may sign, so that verifiers caching the JWKS already know it
// when it becomes active; the active key signs; a retired key stays
// published until every token it signed has expired (MaxTokenTTL), and is
// then deleted. Rotation and clean-up go through store transactions with
// audit events, serialised by a lock row, so several keyshift instances
// sharing a store agree on one active and one next key per algorithm and
// follow each other through the change feed. A kept algorithm without keys
// (a new configuration, or a store from before it was kept) gets an active
// key on start and a next key at the first maintenance, leaving the other
// algorithms' keys alone; the active and next keys of an algorithm no
// longer kept are retired, so its tokens verify until they expire.
//
// Private keys (RSA 2048-bit for RS256) are stored as PKCS#8 sealed with
// AES-256-GCM under a key derived from the server's master secret (see
// LoadMasterSecret and Sealer); the key id is the additional data, so a
// sealed key cannot be moved to another row.
//
// Sign, SignWith and Verify are the hot path: they read an immutable
// snapshot of the keys through an atomic pointer, use crypto/ecdsa,
// crypto/ed25519 and crypto/rsa (PKCS #1 v1.5, SHA-256) directly and reuse
// pre-encoded headers. Verify accepts a token of any published key, and
// takes the algorithm from the key, never from the token: a header whose
// alg is not its key's is refused, whatever the signature.
//
// # Why a JWS writer of its own
//
// Everywhere else keyshift speaks JOSE through go-jose: guard verifies
// access tokens with it, authz verifies client assertions (any algorithm,
// keys a tenant controls), tokensource signs them, the credentials check
// verifies tokens against the JWKS, and JWKs are parsed and published with
// its JSONWebKey (this package too). Only the compact JWS of keyshift's own
// tokens, for the three algorithms and the keys this package made, is
// written and checked here (jws.go), because it is the token endpoint's
// largest cost after the signature itself and keyshift aims that endpoint
// at a bare signature. Measured on a shared 2-core machine, each line's
// variants in one run (process CPU time per op, medians of 6 to 8;
// BenchmarkSignVsGoJose and BenchmarkVerifyVsGoJose here,
// BenchmarkTokenSigner in authz, whose bare baseline took 36.8 µs):
//
//	sign RFC 9068 claims   here      go-jose Signer.Sign   go-jose jwt.Signed
//	ES256                  27.9 µs   34.9 µs (+25 %)       45.6 µs (+63 %)
//	EdDSA                  18.9 µs   25.1 µs (+33 %)       38.9 µs (+106 %)
//	RS256                  784 µs    805 µs  (+3 %)        830 µs  (+6 %)
//	token endpoint, ES256  41.6 µs   49.5 µs (+19 %)       67.7 µs (+63 %)
//	verify ES256/EdDSA/RS256: 53.5/41.5/28.4 µs here, 65.6/48.5/36.1 µs go-jose
//
// Allocations per signature: 61, 2 and 4 (ES256, EdDSA, RS256) here, 126,
// 58 and 61 with go-jose's Signer. End to end (keyshift bench, four
// alternating runs of each build) keyshift served 89-98 % (median 90.5 %)
// of the bare baseline's tokens/s with this writer and 76-88 % (median
// 84 %) with go-jose's Signer. jwt.Signed would also change the token
// bytes: it re-encodes the claims through a sorted map with its own JSON
// encoder (\u0008 for encoding/json's \b).
//
// The writer is held to go-jose by tests (gojose_test.go): for every
// algorithm and typ, its token is byte for byte go-jose's for the same key
// and payload (the signing input only for ES256, whose signatures are
// randomised), go-jose verifies it with the published JWK, and a fuzz
// target varies the claims' strings.
package signing
