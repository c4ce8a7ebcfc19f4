package apikey

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/credential"
)

const legacy40 = "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n" // 40 alphanumerics, as on the reference platform

func TestGenerate_IsRecognisedKeyshiftKey(t *testing.T) {
	a, b := Generate(), Generate()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	if !strings.HasPrefix(a, credential.PrefixAPIKey) || Recognize(a) != FormatKeyshift {
		t.Fatalf("Generate() = %q, format %v", a, Recognize(a))
	}
	if got, err := ParseHeader(a); err != nil || got != a {
		t.Fatalf("ParseHeader(generated) = %q, %v", got, err)
	}
}

func TestParseHeader(t *testing.T) {
	key := Generate()
	typo := key[:10] + flip(key[10]) + key[11:]
	tests := []struct {
		name  string
		value string
		want  string
		err   error
	}{
		{"keyshift key", key, key, nil},
		{"legacy 40 alphanumerics", legacy40, legacy40, nil},
		{"spaces and tabs around are trimmed", " \t" + legacy40 + "\t ", legacy40, nil},
		{"legacy with punctuation", "abc-DEF_ghi.123/456+789=", "abc-DEF_ghi.123/456+789=", nil},
		{"empty", "", "", ErrEmptyKey},
		{"only spaces", "   ", "", ErrEmptyKey},
		{"15 characters: too short", legacy40[:15], "", ErrKeyTooShort},
		{"16 characters: shortest legacy key", legacy40[:16], legacy40[:16], nil},
		{"256 characters: longest key", strings.Repeat("a", 256), strings.Repeat("a", 256), nil},
		{"257 characters: too long", strings.Repeat("a", 257), "", ErrKeyTooLong},
		{"huge value refused before trimming", strings.Repeat(" ", 10000) + legacy40, "", ErrKeyTooLong},
		{"inner space", legacy40[:20] + " " + legacy40[20:], "", ErrKeyChar},
		{"NUL", legacy40 + "\x00", "", ErrKeyChar},
		{"CR LF", legacy40 + "\r\n", "", ErrKeyChar},
		{"DEL", legacy40 + "\x7f", "", ErrKeyChar},
		{"non-ASCII", legacy40 + "é", "", ErrKeyChar},
		{"keyshift prefix with a typo", typo, "", ErrKeyChecksum},
		{"keyshift prefix, truncated", key[:len(key)-1], "", ErrKeyChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.value)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseHeader = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
			if err != nil && tt.value != "" && len(tt.value) >= MinKeyLen && strings.Contains(err.Error(), strings.TrimSpace(tt.value)) {
				t.Errorf("error %q leaks the key", err)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestRecognize(t *testing.T) {
	tests := []struct {
		key  string
		want Format
	}{
		{Generate(), FormatKeyshift},
		{legacy40, FormatLegacy},
		{"ksk_" + legacy40, FormatInvalid}, // reserved prefix without checksum
		{"short", FormatInvalid},
		{"", FormatInvalid},
	}
	for _, tt := range tests {
		if got := Recognize(tt.key); got != tt.want {
			t.Errorf("Recognize(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestHash_IsSHA256(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	h := Hash("abc")
	var sb strings.Builder
	for _, b := range h {
		sb.WriteString(string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15]))
	}
	if sb.String() != want {
		t.Errorf("Hash = %s", sb.String())
	}
}

func TestParseHeader_DoesNotAllocate(t *testing.T) {
	key := " " + Generate() + " "
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseHeader(key) }); n != 0 {
		t.Errorf("ParseHeader allocates %v times", n)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	for _, c := range []struct{ name, key string }{{"keyshift", Generate()}, {"legacy", legacy40}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = ParseHeader(c.key)
			}
		})
	}
}

// FuzzParseHeader checks that whatever ParseHeader accepts is a clean key that
// parses to itself, and that it never panics.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{Generate(), legacy40, " \t" + legacy40 + " ", "", "ksk_" + legacy40, legacy40 + "\r\n", strings.Repeat("a", 257), "é" + legacy40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		key, err := ParseHeader(value)
		if err != nil {
			if key != "" {
				t.Fatalf("error %v with key %q", err, key)
			}
			return
		}
		if len(key) < MinKeyLen || len(key) > MaxKeyLen {
			t.Fatalf("accepted %d characters", len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] >= 0x7f {
				t.Fatalf("accepted byte %#x", key[i])
			}
		}
		if !strings.Contains(value, key) {
			t.Fatalf("key %q is not part of %q", key, value)
		}
		if again, err := ParseHeader(key); err != nil || again != key {
			t.Fatalf("not idempotent: %q, %v", again, err)
		}
		if Recognize(key) == FormatInvalid {
			t.Fatalf("accepted key %q is not recognised", key)
		}
	})
}

func TestCheckFormat_KeyshiftChecksumMutations_Refused(t *testing.T) {
	for range 200 {
		k := Generate()
		if err := CheckFormat(k); err != nil {
			t.Fatalf("generated key %q refused: %v", k, err)
		}
		for _, m := range []string{k[:len(k)-1] + flip(k[len(k)-1]), k[:8] + flip(k[8]) + k[9:], k[:len(k)-1], k + "a"} {
			if CheckFormat(m) == nil {
				t.Fatalf("mutated key %q accepted", m)
			}
		}
	}
}
