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
package signing
