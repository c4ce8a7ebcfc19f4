package tokensource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds what we read from a token or discovery endpoint;
// tokens grow with scopes but stay far below this.
const maxResponseBytes = 1 << 20

// tokenResponse is a successful RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken string
	TokenType   string
	// ExpiresIn is zero when the server did not say.
	ExpiresIn time.Duration
	// Scope is nil when the server did not say (then it granted what was
	// asked, RFC 6749 §5.1).
	Scope []string
}

// parseTokenResponse turns a token endpoint's answer into a token or a typed
// *Error. It looks at the body only as far as it must, and never puts the
// body into an error: a 200 body holds a token.
func parseTokenResponse(status int, header http.Header, body []byte) (tokenResponse, error) {
	if looksHTML(header, body) {
		return tokenResponse{}, &Error{Kind: KindHTML, Status: status}
	}
	if status != http.StatusOK {
		return tokenResponse{}, parseErrorResponse(status, body)
	}
	var raw struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Scope       *string         `json:"scope"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return tokenResponse{}, &Error{Kind: KindBadResponse, Status: status, Err: fmt.Errorf("decode JSON: %w", scrub(err))}
	}
	if raw.AccessToken == "" {
		return tokenResponse{}, &Error{Kind: KindBadResponse, Status: status, Description: "no access_token in the answer"}
	}
	if !strings.EqualFold(raw.TokenType, "bearer") {
		return tokenResponse{}, &Error{Kind: KindBadResponse, Status: status,
			Description: fmt.Sprintf("token_type %q, want Bearer", truncate(raw.TokenType, 32))}
	}
	exp, err := parseExpiresIn(raw.ExpiresIn)
	if err != nil {
		return tokenResponse{}, &Error{Kind: KindBadResponse, Status: status, Err: err}
	}
	tr := tokenResponse{AccessToken: raw.AccessToken, TokenType: tokenTypeBearer, ExpiresIn: exp}
	if raw.Scope != nil {
		tr.Scope = strings.Fields(*raw.Scope)
	}
	return tr, nil
}

// parseExpiresIn accepts a JSON number or, as some servers send, a numeric
// string; absent or null means unknown (0).
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	s = strings.Trim(s, `"`)
	f, err := strconv.ParseFloat(s, 64)
	// An upper bound of ten years keeps the Duration from overflowing.
	if err != nil || f < 0 || f > 10*365*24*3600 {
		return 0, fmt.Errorf("expires_in %q is not a number of seconds", truncate(s, 32))
	}
	return time.Duration(f) * time.Second, nil
}

// parseErrorResponse reads an RFC 6749 §5.2 error answer.
func parseErrorResponse(status int, body []byte) *Error {
	var raw struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	e := &Error{Status: status}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Error == "" {
		e.Kind = KindBadResponse
		if status >= 500 || status == http.StatusTooManyRequests {
			e.Kind = KindServer
		}
		e.Description = "answer is not an OAuth error (RFC 6749 §5.2)"
		return e
	}
	e.Code = truncate(raw.Error, 64)
	e.Description = truncate(raw.Description, 300)
	switch {
	case raw.Error == codeInvalidClient:
		e.Kind = KindInvalidClient
	case raw.Error == codeInvalidScope:
		e.Kind = KindInvalidScope
	case status >= 500 || status == http.StatusTooManyRequests || raw.Error == codeTemporarilyUnavailable || raw.Error == codeServerError:
		e.Kind = KindServer
	default:
		e.Kind = KindOAuth
	}
	return e
}

// looksHTML spots login pages, proxy error pages and the like.
func looksHTML(header http.Header, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(header.Get("Content-Type")); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
		return true
	}
	b := bytes.TrimSpace(body)
	if len(b) > 64 {
		b = b[:64]
	}
	lb := bytes.ToLower(b)
	return bytes.HasPrefix(lb, []byte("<!doctype html")) || bytes.HasPrefix(lb, []byte("<html"))
}

// scrub drops the JSON decoder's message detail that may quote the input.
func scrub(err error) error {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Errorf("field %q has the wrong type", te.Field)
	}
	return fmt.Errorf("malformed JSON")
}

// truncate keeps server-supplied text short in errors and logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// refusedScopes picks, from the requested scopes, those an invalid_scope
// description names; all of them when it names none.
func refusedScopes(requested []string, description string) []string {
	var named []string
	for _, s := range requested {
		for _, w := range strings.FieldsFunc(description, func(r rune) bool {
			return r == ' ' || r == ',' || r == '"' || r == '\'' || r == ':' || r == ';' || r == '(' || r == ')' || r == '[' || r == ']'
		}) {
			if w == s {
				named = append(named, s)
				break
			}
		}
	}
	if len(named) == 0 {
		return append([]string(nil), requested...)
	}
	return named
}
