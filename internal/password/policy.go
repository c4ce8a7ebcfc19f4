package password

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DefaultMinLength is the minimum length, in characters, of a password a
// person chooses.
const DefaultMinLength = 12

// Policy judges a password a person chose. It follows NIST SP 800-63B
// §5.1.1.2: a length floor and a blocklist, no composition rules.
type Policy struct {
	// MinLength in characters after normalisation; 0 means 12.
	MinLength int
}

// Reasons a Policy refuses a password (PolicyError.Code).
const (
	ReasonTooShort     = "too_short"
	ReasonTooLong      = "too_long"
	ReasonInvalid      = "invalid_characters"
	ReasonMatchesLogin = "matches_identifier"
	ReasonCommon       = "common"
)

// PolicyError says why a password was refused. Its message never contains
// the password and can be shown to the person who chose it.
type PolicyError struct {
	Code    string
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

//go:embed common.txt
var commonText string

// common is the embedded blocklist, built once: it is read-only data, not
// state.
var common = func() map[string]struct{} {
	m := make(map[string]struct{}, 128)
	sc := bufio.NewScanner(strings.NewReader(commonText))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = struct{}{}
		}
	}
	return m
}()

// Check returns nil for an acceptable password, or a *PolicyError.
// identifiers are the user's login, email and the like: a password equal to
// one of them (or to an email's local part), in any case, is refused.
func (p Policy) Check(password string, identifiers ...string) error {
	minLen := p.MinLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if len(password) > MaxBytes {
		return &PolicyError{ReasonTooLong, "must be at most " + strconv.Itoa(MaxBytes) + " bytes"}
	}
	if !utf8.ValidString(password) {
		return &PolicyError{ReasonInvalid, "must be valid UTF-8"}
	}
	if strings.IndexFunc(password, unicode.IsControl) >= 0 {
		return &PolicyError{ReasonInvalid, "must not contain control characters"}
	}
	normal := norm.NFKC.String(password)
	if utf8.RuneCountInString(normal) < minLen {
		return &PolicyError{ReasonTooShort, "must be at least " + strconv.Itoa(minLen) + " characters"}
	}
	folded := strings.ToLower(normal)
	for _, id := range identifiers {
		id = strings.ToLower(norm.NFKC.String(id))
		local, _, isEmail := strings.Cut(id, "@")
		if id != "" && (folded == id || (isEmail && local != "" && folded == local)) {
			return &PolicyError{ReasonMatchesLogin, "must not be the login or email"}
		}
	}
	if _, ok := common[folded]; ok || oneCharRepeated(folded) {
		return &PolicyError{ReasonCommon, "is too common; choose a longer passphrase"}
	}
	return nil
}

func oneCharRepeated(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// Generate returns a random password for a person to be given once: 26
// base32 characters, 130 bits, which passes every Policy whose MinLength is
// at most 26.
func Generate() string { return rand.Text() }
