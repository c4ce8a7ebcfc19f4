// Package signing manages keyshift's JWS signing keys and issues and checks
// the JWTs signed with them.
//
// Keys move through three states kept in the store: a next key is published
// in the JWKS for a pre-publication period before it may sign, so that
// verifiers caching the JWKS already know it when it becomes active; the
// active key signs; a retired key stays published until every token it
// signed has expired (MaxTokenTTL), and is then deleted. Rotation and
// clean-up go through store transactions with audit events, so several
// keyshift instances sharing a store agree on the keys and follow each
// other through the change feed.
//
// Private keys are stored as PKCS#8 sealed with AES-256-GCM under a key
// derived from the server's master secret (see LoadMasterSecret and
// Sealer); the key id is the additional data, so a sealed key cannot be
// moved to another row.
//
// Sign and Verify are the hot path: they read an immutable snapshot of the
// keys through an atomic pointer, use crypto/ecdsa and crypto/ed25519
// directly and reuse pre-encoded headers. Verify takes the algorithm from
// the key, never from the token.
package signing
