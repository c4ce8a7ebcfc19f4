package authz

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func urlEncode(s string) string { return url.QueryEscape(s) }

func TestParseScope(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		ok   bool
	}{
		{"empty is none", "", nil, true},
		{"one", "core.invoice.read", []string{"core.invoice.read"}, true},
		{"two", "a b", []string{"a", "b"}, true},
		{"duplicates dropped", "a b a", []string{"a", "b"}, true},
		{"colon allowed", "keyshift:admin", []string{"keyshift:admin"}, true},
		{"leading space", " a", nil, false},
		{"trailing space", "a ", nil, false},
		{"double space", "a  b", nil, false},
		{"tab", "a\tb", nil, false},
		{"quote", `a"b`, nil, false},
		{"backslash", `a\b`, nil, false},
		{"non-ASCII", "été", nil, false},
		{"NUL", "a\x00", nil, false},
		{"too long token", strings.Repeat("x", maxScopeTokLen+1), nil, false},
		{"too many", manyScopes(maxScopes + 1), nil, false},
		{"many repeats are fine", strings.TrimSpace(strings.Repeat("a ", 500)), []string{"a"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseScope(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("parseScope(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && !slices.Equal(got, tt.want) {
				t.Fatalf("parseScope(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func manyScopes(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = "s" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return strings.Join(s, " ")
}

func TestAllowedScopes_AdminOnlyForPlatformClients(t *testing.T) {
	tenant := &store.Client{Tenant: "acme", Scopes: []string{"a", oauth.ScopeAdmin, "b"}}
	if got := allowedScopes(tenant); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("tenant client scopes = %q", got)
	}
	platform := &store.Client{Tenant: store.PlatformTenant, Scopes: []string{oauth.ScopeAdmin}}
	if got := allowedScopes(platform); !slices.Equal(got, []string{oauth.ScopeAdmin}) {
		t.Fatalf("platform client scopes = %q", got)
	}
}

func FuzzScopeParse(f *testing.F) {
	for _, s := range []string{"", "a", "a b", "a  b", " a", `a"`, "keyshift:admin core.invoice.read", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseScope(in)
		if err != nil {
			return
		}
		if len(got) > maxScopes {
			t.Fatalf("%d scopes accepted", len(got))
		}
		seen := map[string]bool{}
		for _, s := range got {
			if s == "" || seen[s] || strings.ContainsAny(s, " \"\\") {
				t.Fatalf("bad scope %q in %q", s, got)
			}
			seen[s] = true
		}
		// Joining the result must parse to the same scopes.
		again, err := parseScope(joinScopes(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip %q: %q, %v", got, again, err)
		}
	})
}
