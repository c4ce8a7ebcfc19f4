package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// sealVersion prefixes every sealed value so the format (cipher, key
// derivation) can change later without guessing.
const sealVersion = 1

// hkdfInfo binds the derived key to its one purpose, so the master secret can
// safely derive other keys later.
const hkdfInfo = "keyshift signing-key seal v1"

// ErrOpen reports a sealed value that does not decrypt: the master secret is
// not the one it was sealed with, or the data was altered.
var ErrOpen = errors.New("cannot decrypt sealed key: wrong master secret or tampered data")

// Sealer encrypts signing keys at rest with AES-256-GCM under a key derived
// from the master secret with HKDF-SHA256. Each value gets a random nonce;
// the additional data (the key id) binds a sealed value to its row, so
// sealed keys cannot be swapped between rows. A Sealer is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing key from master, which must have at least
// MinSecretLen bytes.
func NewSealer(master []byte) (*Sealer, error) {
	if len(master) < MinSecretLen {
		return nil, fmt.Errorf("new sealer: master secret has %d bytes, need at least %d", len(master), MinSecretLen)
	}
	key, err := hkdf.Key(sha256.New, master, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("new sealer: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad. The result is
// version(1) || nonce(12) || ciphertext || tag(16).
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+ns], plaintext, aad), nil
}

// Open decrypts a value made by Seal with the same aad. It returns ErrOpen
// when the value does not authenticate.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() {
		return nil, fmt.Errorf("open: sealed value too short: %w", ErrOpen)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("open: unknown seal version %d", sealed[0])
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("open: %w", ErrOpen)
	}
	return plain, nil
}
