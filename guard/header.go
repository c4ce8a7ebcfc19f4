package guard

import (
	"net/http"
	"strings"
)

// Bounds of credentials as presented; keyshift's tokens are well under
// 4 KiB and keys under 256 characters.
const (
	maxTokenLen = 16 << 10
	maxKeyLen   = 256
)

// parseBearer extracts the token of an Authorization header value
// (RFC 6750 §2.1: "Bearer" case-insensitively, then one or more spaces, then
// a token68, whose syntax the verifier checks). ok is false when the header uses another scheme; err is set
// for a Bearer header whose token is missing or malformed. It does not
// allocate.
func parseBearer(v string) (token string, ok bool, err *Error) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false, nil
	}
	rest := v[len(scheme):]
	if rest != "" && rest[0] != ' ' {
		return "", false, nil // another scheme, e.g. "BearerX"
	}
	rest = strings.TrimLeft(rest, " ")
	rest = strings.TrimRight(rest, " \t")
	switch {
	case rest == "":
		return "", true, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "the Authorization header has no bearer token"}
	case len(rest) > maxTokenLen:
		return "", true, tokenError("the access token is too long", nil)
	}
	// The token68 syntax is checked before a first verification only: a
	// cache hit is a token that passed it.
	return rest, true, nil
}

// token68Chars marks the characters of RFC 7235's token68 before its
// padding: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/". A table,
// because this scan runs over every token on every request.
var token68Chars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

// isToken68 reports whether s matches token68: 1*token68Chars *"=".
func isToken68(s string) bool {
	i := 0
	for i < len(s) && token68Chars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// parseKey extracts a key from the value of the key header: optional
// whitespace trimmed, then 1 to 256 visible ASCII characters. ok is false
// for a malformed value, which the guard answers as an unknown key.
func parseKey(v string) (key string, ok bool) {
	if len(v) > 2*maxKeyLen {
		return "", false
	}
	key = strings.Trim(v, " \t")
	if key == "" || len(key) > maxKeyLen {
		return "", false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f {
			return "", false
		}
	}
	return key, true
}
