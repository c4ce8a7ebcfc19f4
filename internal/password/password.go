// Package password hashes, verifies and judges the passwords of users who
// sign in to keyshift.
//
// Hashes are argon2id (RFC 9106) in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so the parameters travel with
// each hash and can be raised later: Verify reports when a stored hash was
// made with other parameters than the Hasher's, and the caller rehashes on
// the next successful sign-in. Passwords are NFKC-normalised before hashing
// (NIST SP 800-63B §5.1.1.2), so the same password typed on two keyboards
// that produce different code points still matches.
//
// Machine-generated secrets (client secrets, API keys) do not belong here:
// they are 256-bit random values stored as SHA-256 (package credential).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// MaxBytes bounds a password's length in bytes: long enough for any
// passphrase, short enough that hashing cannot be abused with huge inputs.
const MaxBytes = 1024

// Params are the argon2id cost parameters of new hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes of derived hash
}

// DefaultParams are OWASP's minimum argon2id configuration (19 MiB, two
// passes, one lane). RFC 9106's second recommendation (64 MiB, t=3, p=4)
// costs about ten times as much, which a small shared host serving many
// sign-ins at once cannot afford.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Hard limits on parameters, both for a Hasher's configuration and for any
// stored hash Verify parses: a hostile or corrupt hash must not make one
// verification take a gigabyte or minutes.
const (
	MaxMemory  = 1 << 20 // KiB = 1 GiB
	MaxTime    = 10
	MaxThreads = 16
	MinSaltLen = 8
	MaxSaltLen = 64
	MinKeyLen  = 16
	MaxKeyLen  = 64
)

// Validate checks p against the hard limits.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("argon2id threads %d: must be 1..%d", p.Threads, MaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("argon2id memory %d KiB: must be %d..%d", p.Memory, 8*uint32(p.Threads), MaxMemory)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("argon2id time %d: must be 1..%d", p.Time, MaxTime)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("argon2id salt length %d: must be %d..%d", p.SaltLen, MinSaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("argon2id key length %d: must be %d..%d", p.KeyLen, MinKeyLen, MaxKeyLen)
	}
	return nil
}

// ErrTooLong reports a password over MaxBytes.
var ErrTooLong = fmt.Errorf("password longer than %d bytes", MaxBytes)

// Hasher hashes and verifies passwords with one set of parameters. It is
// safe for concurrent use.
type Hasher struct {
	p Params
	// sem bounds concurrent hashes: each one holds Params.Memory, and more
	// of them than there are CPUs only adds memory, not throughput.
	sem chan struct{}
}

// New returns a Hasher making hashes with p.
func New(p Params) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Hasher{p: p, sem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}, nil
}

// Params returns the parameters of new hashes.
func (h *Hasher) Params() Params { return h.p }

// Hash returns the PHC string of password under a fresh random salt. It
// does not judge the password; see Policy.
func (h *Hasher) Hash(password string) ([]byte, error) {
	if len(password) > MaxBytes {
		return nil, ErrTooLong
	}
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("password salt: %w", err)
	}
	key := h.derive(password, salt, h.p)
	return encodePHC(h.p, salt, key), nil
}

// Verify reports whether password matches the stored PHC string, and
// whether the hash should be replaced by one with the Hasher's parameters
// (only ever true with ok). A malformed or out-of-bounds hash is an error,
// never a match.
func (h *Hasher) Verify(phc []byte, password string) (ok, needsRehash bool, err error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxBytes {
		// Dummy refuses the same input just as fast, so this early
		// return does not tell a known login from an unknown one.
		return false, false, nil
	}
	got := h.derive(password, salt, p)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.p, nil
}

// dummySalt is fixed: Dummy's result is thrown away, only its cost matters.
var dummySalt = make([]byte, MaxSaltLen)

// Dummy spends the time of a Verify against a hash with the Hasher's
// parameters and reports nothing. Call it when the login is unknown (or the
// user has no password), so the answer time does not reveal whether a
// login exists.
func (h *Hasher) Dummy(password string) {
	if len(password) > MaxBytes {
		return
	}
	_ = h.derive(password, dummySalt[:h.p.SaltLen], h.p)
}

// derive runs argon2id, at most GOMAXPROCS at a time.
func (h *Hasher) derive(password string, salt []byte, p Params) []byte {
	h.sem <- struct{}{}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(norm.NFKC.String(password)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// ErrMalformed reports a stored hash that is not a well-formed argon2id PHC
// string within the hard limits.
var ErrMalformed = errors.New("malformed argon2id hash")
