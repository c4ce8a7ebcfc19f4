package authz

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxParams bounds the parameters of one request; no endpoint needs more
// than a handful, and the bound keeps hostile bodies cheap.
const maxParams = 32

// form holds the parameters of a request body. A parameter sent with an
// empty value reads as absent (RFC 6749 §3.1).
type form map[string]string

func (f form) get(name string) string { return f[name] }

func (f form) has(name string) bool { return f[name] != "" }

// errForm reports a body that is not a well-formed, unambiguous form.
var errForm = errors.New("malformed form body")

// parseForm parses an application/x-www-form-urlencoded body strictly:
// every parameter at most once (RFC 6749 §3.1), no ';' separators (which
// some proxies split on and Go's own parser refuses), valid percent
// encoding, valid UTF-8 and no control characters (none of our parameters
// may contain them, and NUL bytes have no business in a credential).
// Empty segments ("a=1&&b=2") are skipped as the WHATWG URL standard does.
func parseForm(body string) (form, error) {
	f := form{}
	n := 0
	for body != "" {
		var seg string
		seg, body, _ = strings.Cut(body, "&")
		if seg == "" {
			continue
		}
		if n++; n > maxParams {
			return nil, fmt.Errorf("%w: more than %d parameters", errForm, maxParams)
		}
		if strings.IndexByte(seg, ';') >= 0 {
			return nil, fmt.Errorf("%w: ';' is not a parameter separator", errForm)
		}
		rawKey, rawVal, _ := strings.Cut(seg, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("%w: bad percent-encoding in a parameter name", errForm)
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, fmt.Errorf("%w: bad percent-encoding in parameter %s", errForm, printable(key))
		}
		if key == "" {
			return nil, fmt.Errorf("%w: parameter without a name", errForm)
		}
		if !cleanText(key) || !cleanText(val) {
			return nil, fmt.Errorf("%w: control character or invalid UTF-8 in parameter %s", errForm, printable(key))
		}
		if _, dup := f[key]; dup {
			return nil, fmt.Errorf("%w: parameter %s repeated", errForm, printable(key))
		}
		f[key] = val
	}
	return f, nil
}

// cleanText reports whether s is valid UTF-8 without C0 controls or DEL.
func cleanText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// printable quotes a request-supplied name for an error description,
// short and without characters the description may not carry.
func printable(s string) string {
	if len(s) > 40 || !cleanText(s) || strings.ContainsAny(s, "\"\\") {
		return "(unprintable)"
	}
	return "'" + s + "'"
}

// readForm checks the HTTP framing of a protocol POST and returns its form:
// POST only, no query string (credentials in URLs end up in logs), the form
// content type (RFC 6749 §4.4.2), a body within limit.
func readForm(w http.ResponseWriter, r *http.Request, limit int64) (form, *Error) {
	if r.Method != http.MethodPost {
		return nil, errMethodNotAllowed()
	}
	if r.URL.RawQuery != "" {
		return nil, errInvalidRequest("parameters must be sent in the request body, not the query string")
	}
	if e := checkContentType(r.Header); e != nil {
		return nil, e
	}
	if r.ContentLength > limit {
		// RFC 6749 knows no 413; a client library shows invalid_request.
		return nil, errInvalidRequest("request body too large")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errInvalidRequest("request body too large")
		}
		return nil, errInvalidRequest("cannot read request body")
	}
	f, err := parseForm(string(body))
	if err != nil {
		return nil, errInvalidRequest(err.Error())
	}
	return f, nil
}

// checkContentType accepts application/x-www-form-urlencoded, optionally
// with a UTF-8 (or ASCII) charset; the body is decoded as UTF-8 regardless,
// so another declared charset would be misread.
func checkContentType(h http.Header) *Error {
	vals := h.Values("Content-Type")
	if len(vals) != 1 {
		return errInvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	mt, params, err := mime.ParseMediaType(vals[0])
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return errInvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	for k, v := range params {
		if k != "charset" {
			return errInvalidRequest("unsupported Content-Type parameter")
		}
		if !strings.EqualFold(v, "utf-8") && !strings.EqualFold(v, "us-ascii") {
			return errInvalidRequest("charset must be UTF-8")
		}
	}
	return nil
}
