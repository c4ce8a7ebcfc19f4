package authz

import (
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name string
		body string
		want form
		ok   bool
	}{
		{"empty body", "", form{}, true},
		{"one parameter", "grant_type=client_credentials", form{"grant_type": "client_credentials"}, true},
		{"plus is space", "scope=a+b", form{"scope": "a b"}, true},
		{"percent encoded", "scope=a%20b&client_id=x%2By", form{"scope": "a b", "client_id": "x+y"}, true},
		{"no value", "scope", form{"scope": ""}, true},
		{"empty segments skipped", "a=1&&b=2&", form{"a": "1", "b": "2"}, true},
		{"unicode value", "name=%C3%A9t%C3%A9", form{"name": "été"}, true},
		{"repeated parameter", "scope=a&scope=b", nil, false},
		{"repeated with empty value", "scope=&scope=b", nil, false},
		{"semicolon separator", "a=1;b=2", nil, false},
		{"bad percent", "a=%zz", nil, false},
		{"bad percent in name", "%zz=1", nil, false},
		{"empty name", "=1", nil, false},
		{"NUL byte", "client_id=a%00b", nil, false},
		{"raw NUL byte", "client_id=a\x00b", nil, false},
		{"newline", "client_id=a%0Ab", nil, false},
		{"DEL", "client_id=a%7Fb", nil, false},
		{"invalid UTF-8", "client_id=%FF", nil, false},
		{"too many parameters", strings.Repeat("a=1&", 0) + manyParams(maxParams+1), nil, false},
		{"just enough parameters", manyParams(maxParams), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseForm(tt.body)
			if (err == nil) != tt.ok {
				t.Fatalf("parseForm(%q) err = %v, want ok=%v", tt.body, err, tt.ok)
			}
			if err != nil && !errors.Is(err, errForm) {
				t.Fatalf("error %v does not wrap errForm", err)
			}
			if tt.want != nil && !maps.Equal(got, tt.want) {
				t.Fatalf("parseForm(%q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("p")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("=1")
	}
	return b.String()
}

func TestReadForm_Framing(t *testing.T) {
	tests := []struct {
		name, method, target, ctype, body string
		status                            int
	}{
		{"form post", http.MethodPost, "/t", "application/x-www-form-urlencoded", "a=1", 0},
		{"charset utf-8", http.MethodPost, "/t", "application/x-www-form-urlencoded; charset=UTF-8", "a=1", 0},
		{"other charset", http.MethodPost, "/t", "application/x-www-form-urlencoded; charset=latin1", "a=1", 400},
		{"unknown parameter", http.MethodPost, "/t", "application/x-www-form-urlencoded; boundary=x", "a=1", 400},
		{"json", http.MethodPost, "/t", "application/json", `{"a":1}`, 400},
		{"no content type", http.MethodPost, "/t", "", "a=1", 400},
		{"malformed content type", http.MethodPost, "/t", "application/x-www-form-urlencoded; =", "a=1", 400},
		{"query string", http.MethodPost, "/t?a=1", "application/x-www-form-urlencoded", "", 400},
		{"get", http.MethodGet, "/t", "", "", 405},
		{"put", http.MethodPut, "/t", "application/x-www-form-urlencoded", "a=1", 405},
		{"oversized", http.MethodPost, "/t", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", 100), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			_, e := readForm(httptest.NewRecorder(), r, 64)
			switch {
			case tt.status == 0 && e != nil:
				t.Fatalf("unexpected error %v", e)
			case tt.status != 0 && (e == nil || e.Status != tt.status || e.Code != oauth.CodeInvalidRequest):
				t.Fatalf("got %v, want %d invalid_request", e, tt.status)
			}
		})
	}
}

func TestReadForm_OversizedWithoutContentLength(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/t", strings.NewReader("a="+strings.Repeat("x", 100)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, e := readForm(httptest.NewRecorder(), r, 64)
	if e == nil || e.Code != oauth.CodeInvalidRequest || !strings.Contains(e.Description, "too large") {
		t.Fatalf("got %v, want invalid_request too large", e)
	}
}

func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		"", "grant_type=client_credentials&scope=a+b", "a=1&a=2", "a=1;b=2", "%zz=1",
		"a=%00", "scope", "a=1&&b=2&", "x=%C3%A9", "client_id=a%2Bb&client_secret=kss_x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseForm(body)
		if err != nil {
			if got != nil {
				t.Fatal("non-nil form with an error")
			}
			return
		}
		if len(got) > maxParams {
			t.Fatalf("%d parameters accepted", len(got))
		}
		for k, v := range got {
			if k == "" || !cleanText(k) || !cleanText(v) {
				t.Fatalf("unclean parameter %q=%q accepted", k, v)
			}
		}
		// Re-encoding what was accepted must give the same form back.
		var parts []string
		for k, v := range got {
			parts = append(parts, urlEncode(k)+"="+urlEncode(v))
		}
		again, err := parseForm(strings.Join(parts, "&"))
		if err != nil || !maps.Equal(again, got) {
			t.Fatalf("round trip of %v: %v, %v", got, again, err)
		}
	})
}
