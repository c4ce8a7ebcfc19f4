package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook request.
const (
	HeaderSignature = "Keyshift-Signature"
	HeaderEventID   = "Keyshift-Event-Id"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock before Verify refuses it as a possible replay.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrSignatureMalformed = errors.New("malformed Keyshift-Signature header")
	ErrSignatureMismatch  = errors.New("no Keyshift-Signature matches the body")
	ErrSignatureExpired   = errors.New("Keyshift-Signature timestamp outside the tolerance")
)

// maxSignatures bounds how many v1 values Verify looks at, so a hostile
// header cannot make it compute many MACs.
const maxSignatures = 4

// Sign returns the Keyshift-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", one v1 per
// secret (two while a secret is being rotated).
func Sign(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.Grow(len("t=,") + len(ts) + len(secrets)*(len("v1=,")+2*sha256.Size))
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a Keyshift-Signature header against the raw request body, for
// receivers written in Go: some v1 must be the HMAC of "<t>.<body>" under
// secret, and t within tolerance of now (DefaultTolerance when 0). Unknown
// schemes are ignored, as they may be added later.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, _ := strconv.ParseInt(ts, 10, 64) // parseSignature checked it parses
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureExpired
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// parseSignature splits a header into its timestamp and v1 signatures.
func parseSignature(header string) (ts string, v1 []string, err error) {
	if len(header) > 1024 {
		return "", nil, ErrSignatureMalformed
	}
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, ErrSignatureMalformed
		}
		switch k {
		case "t":
			if ts != "" || v == "" || strings.Trim(v, "0123456789") != "" {
				return "", nil, ErrSignatureMalformed
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return "", nil, ErrSignatureMalformed
			}
			ts = v
		case "v1":
			if len(v1) < maxSignatures {
				v1 = append(v1, v)
			}
		}
	}
	if ts == "" || len(v1) == 0 {
		return "", nil, ErrSignatureMalformed
	}
	return ts, v1, nil
}
