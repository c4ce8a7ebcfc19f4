package credential

import (
	"strings"
	"testing"
)

func TestNew_ValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s := New(PrefixClientSecret)
		if !Valid(PrefixClientSecret, s) {
			t.Fatalf("fresh secret %q not valid", s)
		}
		if seen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		seen[s] = true
	}
}

func TestValid_RejectsTamperedOrForeign(t *testing.T) {
	s := New(PrefixAPIKey)
	flip := func(i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":            "",
		"wrong prefix":     PrefixClientSecret + s[len(PrefixAPIKey):],
		"body changed":     flip(10),
		"checksum changed": flip(len(s) - 1),
		"truncated":        s[:len(s)-1],
		"extended":         s + "a",
		"bad alphabet":     s[:10] + "-" + s[11:],
		"forty alnum":      strings.Repeat("a", 40),
	}
	for name, in := range cases {
		if Valid(PrefixAPIKey, in) {
			t.Errorf("%s: %q accepted", name, in)
		}
	}
}

func FuzzValid(f *testing.F) {
	f.Add(New(PrefixClientSecret))
	f.Add("kss_")
	f.Fuzz(func(t *testing.T, s string) {
		_ = Valid(PrefixClientSecret, s) // must not panic
	})
}

func TestValid_DoesNotAllocate(t *testing.T) {
	s := New(PrefixClientSecret)
	if n := testing.AllocsPerRun(100, func() { Valid(PrefixClientSecret, s) }); n != 0 {
		t.Fatalf("Valid allocates %v times per call", n)
	}
}

func BenchmarkValid(b *testing.B) {
	s := New(PrefixClientSecret)
	b.ReportAllocs()
	for b.Loop() {
		Valid(PrefixClientSecret, s)
	}
}
