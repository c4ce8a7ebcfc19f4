// Package redact keeps credentials out of the logs (CWE-532). It has two
// layers:
//
//   - ClientID and Value make a request-supplied value safe to log: a value
//     is logged as it is only when it has the shape of a keyshift client
//     id, otherwise as a description ("ksk_ key, 53 chars") — an imported
//     legacy key or a password typed into the wrong field has no shape one
//     could recognise, so anything unrecognised is withheld.
//   - NewHandler wraps a slog.Handler and masks every credential shape
//     keyshift issues (kss_ secrets, ksk_ keys, JWTs, Bearer and Basic
//     credentials) in every string of every record, message included: the
//     net under mistakes of future log sites.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Mask replaces a credential inside a logged string.
const Mask = "[REDACTED]"

// clientIDShape is a keyshift client id: ksc_ and base62 (admin.clientIDPrefix).
var clientIDShape = regexp.MustCompile(`^ksc_[0-9A-Za-z]{1,32}$`)

// ClientID returns id when it has the shape of a client id, else a
// description of what it looks like, for a log line about a request whose
// client is unknown. Known clients are logged by their stored id.
func ClientID(id string) string {
	if clientIDShape.MatchString(id) {
		return id
	}
	return Value(id)
}

// Value describes a request-supplied value without revealing it, for a
// log line that must say something was there (a login that matched
// nobody, a tenant that does not exist): its shape and length, never its
// content.
func Value(s string) string {
	kind := "value"
	switch {
	case s == "":
		return "(empty)"
	case strings.HasPrefix(s, "ksk_"):
		kind = "ksk_ key"
	case strings.HasPrefix(s, "kss_"):
		kind = "kss_ secret"
	case jwtShape.MatchString(s):
		kind = "JWT"
	}
	return fmt.Sprintf("(redacted %s, %d chars)", kind, len(s))
}

// credentialShapes are masked by the handler wherever they appear.
var credentialShapes = regexp.MustCompile(
	// keyshift secrets and keys: prefix and base62 (credential.New).
	`\bks[sk]_[0-9A-Za-z]{8,}` +
		// JWTs and JWS/JWE compact forms: base64url header starting {" ...
		`|\beyJ[0-9A-Za-z_-]{4,}\.[0-9A-Za-z_-]*\.?[0-9A-Za-z_.-]*` +
		// HTTP credentials (16+ characters, one a digit, so that prose
		// such as "Basic credentials" stays).
		`|(?i:\b(?:bearer|basic)\s+)[0-9A-Za-z._~+/=-]{16,}`)

var jwtShape = regexp.MustCompile(`^[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*$`)

// String masks every credential shape in s.
func String(s string) string {
	if !maybeCredential(s) {
		return s
	}
	return credentialShapes.ReplaceAllStringFunc(s, func(m string) string {
		if i := strings.IndexAny(m, " \t"); i > 0 && !strings.HasPrefix(m, "ks") && !strings.HasPrefix(m, "eyJ") {
			scheme, cred := m[:i], strings.TrimLeft(m[i:], " \t")
			if !strings.ContainsAny(cred, "0123456789") {
				return m
			}
			return scheme + " " + Mask
		}
		return Mask
	})
}

// maybeCredential is a cheap pre-check, so that most strings skip the
// regular expression.
func maybeCredential(s string) bool {
	return strings.Contains(s, "ks") || strings.Contains(s, "eyJ") ||
		strings.Contains(s, "earer") || strings.Contains(s, "asic") ||
		strings.Contains(s, "EARER") || strings.Contains(s, "ASIC")
}

// Handler masks credential shapes in the records it passes on.
type Handler struct{ next slog.Handler }

// NewHandler wraps next; wrapping a Handler again returns it unchanged.
func NewHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(*Handler); ok {
		return h
	}
	return &Handler{next: next}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = attr(a)
	}
	return &Handler{next: h.next.WithAttrs(clean)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

// attr masks credentials in a's value: strings, errors and Stringers
// (rendered first), and groups recursively.
func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]slog.Attr, len(g))
		for i, ga := range g {
			clean[i] = attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, String(x.String()))
		case []byte:
			return slog.String(a.Key, String(string(x)))
		default:
			// Kept structured unless its rendering holds a credential.
			if r := fmt.Sprint(x); String(r) != r {
				return slog.String(a.Key, String(r))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
