package weburl

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSecure(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"https://hooks.example.com/x?y=1", nil},
		{"http://127.0.0.1:8080/cb", nil},
		{"http://[::1]/cb", nil},
		{"http://localhost/cb", nil},
		{"http://example.com/cb", ErrInsecure},
		{"ftp://example.com/", ErrInsecure},
		{"javascript:alert(1)", ErrNotAbsolute},
		{"/relative", ErrNotAbsolute},
		{"https://user:pw@example.com/", ErrUserinfo},
		{"https://example.com/#frag", ErrFragment},
		{"https://example.com/#", ErrFragment},
		{"::nope", ErrNotAbsolute},
		{"https://" + strings.Repeat("a", MaxLen), ErrTooLong},
	}
	for _, c := range cases {
		if _, err := CheckSecure(c.in); !errors.Is(err, c.want) {
			t.Errorf("CheckSecure(%.40q) = %v, want %v", c.in, err, c.want)
		}
	}
}

func FuzzCheckSecure(f *testing.F) {
	f.Add("https://example.com/a")
	f.Add("http://127.0.0.1/")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := CheckSecure(s)
		if err == nil && (u.Scheme != "https" && !IsLoopbackHost(u.Hostname()) || u.User != nil) {
			t.Fatalf("accepted %q", s)
		}
	})
}
