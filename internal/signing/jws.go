package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxTokenSize is the largest compact JWS Verify accepts.
const MaxTokenSize = 16 << 10

// Errors returned by Verify; callers map them all to an invalid token.
var (
	ErrMalformed  = errors.New("malformed token")
	ErrTooLarge   = errors.New("token too large")
	ErrAlgorithm  = errors.New("token algorithm not accepted")
	ErrUnknownKey = errors.New("token signed by an unknown key")
	ErrType       = errors.New("token type not accepted")
	ErrSignature  = errors.New("token signature invalid")
	// ErrNoActiveKey reports that there is no key to sign with.
	ErrNoActiveKey = errors.New("no active signing key")
)

// b64 decodes strictly: non-zero trailing bits would give one token several
// spellings.
var b64 = base64.RawURLEncoding.Strict()

// tokenBufSize is the stack buffer sign builds a token in. An access token
// is some 500 bytes with ES256 or EdDSA and 760 with RS256 (2048-bit), so
// only unusually large claims take a heap buffer.
const tokenBufSize = 1536

// sign returns a compact JWS over payload with header typ.
func (k *key) sign(typ string, payload []byte) (string, error) {
	hdr := k.header(typ)
	n := len(hdr) + base64.RawURLEncoding.EncodedLen(len(payload)) + 1 +
		base64.RawURLEncoding.EncodedLen(k.sigLen)
	// Built on the stack and copied once into the string: one allocation,
	// as many as a heap buffer the string would share (unsafe.String), and
	// measured no slower (see BenchmarkSignVsGoJose).
	var stack [tokenBufSize]byte
	buf := stack[:0]
	if n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, hdr...)
	buf = base64.RawURLEncoding.AppendEncode(buf, payload)
	var sig [sigLen]byte
	switch {
	case k.ecPriv != nil:
		h := sha256.Sum256(buf)
		der, err := ecdsa.SignASN1(rand.Reader, k.ecPriv, h[:])
		if err != nil {
			return "", fmt.Errorf("sign with key %s: %w", k.kid, err)
		}
		if !derToRaw(der, &sig) {
			return "", fmt.Errorf("sign with key %s: unexpected signature encoding", k.kid)
		}
	case k.edPriv != nil:
		copy(sig[:], ed25519.Sign(k.edPriv, buf))
	case k.rsaPriv != nil:
		return k.signRSA(buf)
	default:
		return "", fmt.Errorf("sign with key %s: no private key", k.kid)
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// signRSA finishes sign for an RS256 key: buf holds the signing input and
// has room for the signature. PKCS #1 v1.5 is deterministic, so no
// randomness is drawn.
func (k *key) signRSA(buf []byte) (string, error) {
	h := sha256.Sum256(buf)
	sig, err := rsa.SignPKCS1v15(nil, k.rsaPriv, crypto.SHA256, h[:])
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", k.kid, err)
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig)
	return string(buf), nil
}

// verifySig checks a 64-byte sig over signed with k's public key and
// algorithm (ES256 or EdDSA; verifyRSA handles RS256).
func (k *key) verifySig(signed, sig []byte) bool {
	if len(sig) != sigLen {
		return false
	}
	switch {
	case k.ecPub != nil:
		h := sha256.Sum256(signed)
		var der [72]byte
		return ecdsa.VerifyASN1(k.ecPub, h[:], rawToDER(sig, &der))
	case k.edPub != nil:
		return ed25519.Verify(k.edPub, signed, sig)
	}
	return false
}

// verifyRSA checks the base64url signature segment sigSeg over signed with
// k's RSA key. It is apart from verifySig so that the heap buffer an RSA
// signature needs does not make the 64-byte path's stack buffer escape.
func (k *key) verifyRSA(signed []byte, sigSeg string) bool {
	if k.rsaPub == nil || b64.DecodedLen(len(sigSeg)) != k.sigLen {
		return false
	}
	sig, err := b64.DecodeString(sigSeg)
	if err != nil || len(sig) != k.sigLen {
		return false
	}
	h := sha256.Sum256(signed)
	return rsa.VerifyPKCS1v15(k.rsaPub, crypto.SHA256, h[:], sig) == nil
}

// splitToken checks the character set (base64url and two dots, which also
// rules out padding and the line breaks base64 decoders skip) and returns
// the positions of the two dots.
func splitToken(token string) (d1, d2 int, err error) {
	if len(token) > MaxTokenSize {
		return 0, 0, ErrTooLarge
	}
	d1, d2 = -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.' && d1 < 0:
			d1 = i
		case c == '.' && d2 < 0:
			d2 = i
		default:
			return 0, 0, fmt.Errorf("%w: unexpected character or segment", ErrMalformed)
		}
	}
	if d2 < 0 || d1 == 0 || d2 == d1+1 || d2 == len(token)-1 {
		return 0, 0, fmt.Errorf("%w: want three non-empty segments", ErrMalformed)
	}
	return d1, d2, nil
}

// parsedHeader is what Verify reads from a protected header it did not
// recognise byte for byte.
type parsedHeader struct {
	alg, kid, typ string
	hasTyp        bool
}

// parseHeader decodes a protected header. It reads exact member names
// (encoding/json's struct decoding would match "ALG" to alg) and refuses
// "crit": keyshift understands no extensions (RFC 7515 §4.1.11).
func parseHeader(seg string) (parsedHeader, error) {
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return parsedHeader{}, fmt.Errorf("%w: header encoding", ErrMalformed)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return parsedHeader{}, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	if _, ok := m["crit"]; ok {
		return parsedHeader{}, fmt.Errorf("%w: critical header extensions not supported", ErrMalformed)
	}
	var h parsedHeader
	fields := []struct {
		name string
		dst  *string
		req  bool
	}{{"alg", &h.alg, true}, {"kid", &h.kid, false}, {"typ", &h.typ, false}}
	for _, f := range fields {
		v, ok := m[f.name]
		if !ok {
			if f.req {
				return parsedHeader{}, fmt.Errorf("%w: header has no %s", ErrMalformed, f.name)
			}
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return parsedHeader{}, fmt.Errorf("%w: header %s is not a string", ErrMalformed, f.name)
		}
		if f.name == "typ" {
			h.hasTyp = true
		}
	}
	return h, nil
}

// typMatches compares typ values as media types: case-insensitively, with
// the "application/" prefix optional (RFC 7515 §4.1.9).
func typMatches(got, want string) bool {
	got = trimApplication(got)
	want = trimApplication(want)
	return strings.EqualFold(got, want)
}

func trimApplication(s string) string {
	const p = "application/"
	if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
		return s[len(p):]
	}
	return s
}

// verify checks token against the keys of set and returns its payload.
func (set *keySet) verify(token, wantTyp string) ([]byte, string, error) {
	d1, d2, err := splitToken(token)
	if err != nil {
		return nil, "", err
	}
	k, err := set.keyFor(token[:d1], wantTyp)
	if err != nil {
		return nil, "", err
	}
	sigSeg := token[d2+1:]
	if k.rsaPub != nil {
		if !k.verifyRSA([]byte(token[:d2]), sigSeg) {
			return nil, "", ErrSignature
		}
	} else {
		if b64.DecodedLen(len(sigSeg)) != sigLen {
			return nil, "", ErrSignature
		}
		var sig [sigLen]byte
		if n, err := b64.Decode(sig[:], []byte(sigSeg)); err != nil || n != sigLen {
			return nil, "", ErrSignature
		}
		if !k.verifySig([]byte(token[:d2]), sig[:]) {
			return nil, "", ErrSignature
		}
	}
	payload, err := b64.DecodeString(token[d1+1 : d2])
	if err != nil {
		return nil, "", fmt.Errorf("%w: payload encoding", ErrMalformed)
	}
	return payload, k.kid, nil
}

// keyFor finds the key a header names and checks alg and typ. Headers this
// package wrote match a key's cached header exactly, which skips JSON.
func (set *keySet) keyFor(hdrSeg, wantTyp string) (*key, error) {
	if wantTyp != "" {
		for _, k := range set.keys {
			h := k.header(wantTyp)
			if len(h) == len(hdrSeg)+1 && h[:len(hdrSeg)] == hdrSeg {
				return k, nil
			}
		}
	}
	h, err := parseHeader(hdrSeg)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(h.alg, "none") {
		return nil, fmt.Errorf("%w: alg none", ErrAlgorithm)
	}
	if !validAlg(h.alg) {
		return nil, fmt.Errorf("%w: unsupported alg", ErrAlgorithm)
	}
	k := set.byKID[h.kid]
	if k == nil {
		return nil, ErrUnknownKey
	}
	// The key decides the algorithm, never the token: this is what stops
	// the HMAC-with-public-key confusion attack.
	if h.alg != k.alg {
		return nil, fmt.Errorf("%w: alg does not match the key", ErrAlgorithm)
	}
	if wantTyp != "" && (!h.hasTyp || !typMatches(h.typ, wantTyp)) {
		return nil, ErrType
	}
	return k, nil
}

// derToRaw converts an ASN.1 ECDSA P-256 signature to the 64-byte r||s form
// of RFC 7518 §3.4. sig must be zeroed.
func derToRaw(der []byte, sig *[sigLen]byte) bool {
	// A P-256 signature is at most 72 bytes, so all lengths are short form.
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return false
	}
	rest := der[2:]
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 {
			return false
		}
		n := int(rest[1])
		if n == 0 || n > 33 || len(rest) < 2+n {
			return false
		}
		v := rest[2 : 2+n]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > 32 {
			return false
		}
		copy(sig[i*32+32-len(v):(i+1)*32], v)
		rest = rest[2+n:]
	}
	return len(rest) == 0
}

// rawToDER converts a 64-byte r||s signature to ASN.1 DER in buf.
func rawToDER(sig []byte, buf *[72]byte) []byte {
	out := append(buf[:0], 0x30, 0)
	for i := range 2 {
		v := sig[i*32 : (i+1)*32]
		for len(v) > 1 && v[0] == 0 {
			v = v[1:]
		}
		if v[0]&0x80 != 0 {
			out = append(out, 0x02, byte(len(v)+1), 0)
		} else {
			out = append(out, 0x02, byte(len(v)))
		}
		out = append(out, v...)
	}
	out[1] = byte(len(out) - 2)
	return out
}
