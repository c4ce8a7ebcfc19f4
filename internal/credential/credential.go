// Package credential generates and checks keyshift's machine-generated
// secrets: client secrets (kss_) and API keys (ksk_). Each is 256 bits of
// randomness with a recognisable prefix and a CRC-32 checksum, so secret
// scanners can find leaked ones and typos are caught before any lookup.
// Secrets are stored only as their SHA-256: a slow KDF adds nothing for
// 256-bit random values and would sit on the token hot path.
package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// Prefixes of keyshift credentials.
const (
	PrefixClientSecret = "kss_"
	PrefixAPIKey       = "ksk_"
)

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	bodyLen     = 43 // ceil(256 / log2(62))
	checksumLen = 6  // base62 of a CRC-32
)

// ErrMalformed reports a string that is not a well-formed keyshift credential.
var ErrMalformed = errors.New("malformed credential")

// New returns a fresh credential with the given prefix.
func New(prefix string) string {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	body := encode(new(big.Int).SetBytes(raw[:]), bodyLen)
	return prefix + body + checksum(prefix+body)
}

// Valid reports whether s has the prefix, length and checksum of a keyshift
// credential. It does not say whether the credential is known. It runs on
// every token request and key check, so it does not allocate, and its final
// comparison takes the same time wherever the checksum differs.
func Valid(prefix, s string) bool {
	if len(s) != len(prefix)+bodyLen+checksumLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	cut := len(s) - checksumLen
	crc := ^uint32(0)
	for i := 0; i < cut; i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	crc = ^crc
	var diff byte
	for i := len(s) - 1; i >= cut; i-- {
		diff |= s[i] ^ alphabet[crc%62]
		crc /= 62
	}
	return diff == 0
}

// Hash returns the SHA-256 of a credential, the only form that is stored.
func Hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Hint returns the last four characters of a credential, enough for a person
// to tell two secrets apart and useless to an attacker.
func Hint(s string) string {
	if len(s) < 4 {
		return ""
	}
	return s[len(s)-4:]
}

// ID returns a random identifier with the given prefix (not a secret).
func ID(prefix string, n int) string {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := encode(new(big.Int).SetBytes(raw[:]), 22)
	if n < len(s) {
		s = s[:n]
	}
	return prefix + s
}

func checksum(s string) string {
	return encode(big.NewInt(int64(crc32.ChecksumIEEE([]byte(s)))), checksumLen)
}

func encode(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(int64(len(alphabet)))
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = alphabet[mod.Int64()]
	}
	return string(out)
}
