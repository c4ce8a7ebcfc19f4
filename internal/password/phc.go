package password

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
)

// maxPHCLen bounds the input before any parsing: the longest string the
// limits allow (m=1048576, t=10, p=16, 64-byte salt and key) is ~220 bytes.
const maxPHCLen = 256

// phcB64 is the PHC format's base64: standard alphabet, no padding, and no
// stray bits in the last character, so each hash has exactly one spelling.
var phcB64 = base64.RawStdEncoding.Strict()

const phcPrefix = "$argon2id$v=19$"

// encodePHC formats an argon2id hash as a PHC string.
func encodePHC(p Params, salt, key []byte) []byte {
	out := make([]byte, 0, maxPHCLen)
	out = append(out, phcPrefix...)
	out = fmt.Appendf(out, "m=%d,t=%d,p=%d$", p.Memory, p.Time, p.Threads)
	out = phcB64.AppendEncode(out, salt)
	out = append(out, '$')
	return phcB64.AppendEncode(out, key)
}

// parsePHC parses a PHC string strictly: the argon2id identifier, version
// 19, the parameters m, t and p in that order as plain decimals, then salt
// and hash, each checked against the hard limits. Anything else — other
// algorithms, optional fields, leading zeros, padding — is ErrMalformed.
func parsePHC(s []byte) (p Params, salt, key []byte, err error) {
	bad := func(what string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	if len(s) > maxPHCLen {
		return bad("too long")
	}
	rest, ok := bytes.CutPrefix(s, []byte(phcPrefix))
	if !ok {
		return bad("not $argon2id$v=19$")
	}
	fields := bytes.Split(rest, []byte{'$'})
	if len(fields) != 3 {
		return bad("want parameters, salt and hash")
	}
	params := bytes.Split(fields[0], []byte{','})
	if len(params) != 3 {
		return bad("want m, t and p")
	}
	var vals [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := bytes.CutPrefix(params[i], []byte(name))
		if !ok {
			return bad("want m, t and p in that order")
		}
		n, ok := parseDecimal(digits)
		if !ok {
			return bad("parameter " + name[:1] + " is not a plain decimal")
		}
		vals[i] = n
	}
	if vals[2] > MaxThreads {
		return bad("p out of bounds")
	}
	p = Params{Memory: vals[0], Time: vals[1], Threads: uint8(vals[2])}
	// The decoder skips CR and LF, so the alphabet is checked first.
	if !isB64(fields[1]) || !isB64(fields[2]) {
		return bad("salt or hash is not unpadded base64")
	}
	if salt, err = phcB64.DecodeString(string(fields[1])); err != nil {
		return bad("salt is not unpadded base64")
	}
	if key, err = phcB64.DecodeString(string(fields[2])); err != nil {
		return bad("hash is not unpadded base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return bad(err.Error())
	}
	return p, salt, key, nil
}

// parseDecimal reads 1 to 10 ASCII digits without a sign or leading zero.
func parseDecimal(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(n), err == nil
}

func isB64(b []byte) bool {
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
