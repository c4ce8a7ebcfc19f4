package password

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestPolicy_Check(t *testing.T) {
	ids := []string{"Ada.Lovelace", "ada@example.com"}
	tests := []struct {
		name     string
		policy   Policy
		password string
		want     string // reason code; "" = accepted
	}{
		{"passphrase", Policy{}, "correct horse battery", ""},
		{"twelve characters", Policy{}, "Kx9#mP2$vL5q", ""},
		{"eleven characters", Policy{}, "Kx9#mP2$vL5", ReasonTooShort},
		{"twelve runes of multibyte", Policy{}, "ääääääääääöö", ""},
		{"length counted after NFKC", Policy{}, "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", ReasonTooShort},
		{"configured minimum 16", Policy{MinLength: 16}, "Kx9#mP2$vL5qZ7w", ReasonTooShort},
		{"configured minimum 8", Policy{MinLength: 8}, "Kx9#mP2$", ""},
		{"max bytes", Policy{}, strings.Repeat("ab", MaxBytes/2), ""},
		{"over max bytes", Policy{}, strings.Repeat("ab", MaxBytes/2) + "c", ReasonTooLong},
		{"invalid UTF-8", Policy{}, "valid prefix \xff\xfe then junk", ReasonInvalid},
		{"control character", Policy{}, "line one\nline two", ReasonInvalid},
		{"spaces are fine", Policy{}, "   many   spaces   here  ", ""},
		{"equals login", Policy{MinLength: 8}, "Ada.Lovelace", ReasonMatchesLogin},
		{"equals login other case", Policy{MinLength: 8}, "ADA.LOVELACE", ReasonMatchesLogin},
		{"equals email", Policy{MinLength: 8}, "ada@example.com", ReasonMatchesLogin},
		{"equals email local part", Policy{MinLength: 3}, "ADA", ReasonMatchesLogin},
		{"contains login is allowed", Policy{}, "Ada.Lovelace likes engines", ""},
		{"common", Policy{}, "password1234", ReasonCommon},
		{"common other case", Policy{}, "PassWord1234", ReasonCommon},
		{"common short under lowered minimum", Policy{MinLength: 6}, "qwerty", ReasonCommon},
		{"common full-width", Policy{}, "ｐａｓｓｗｏｒｄ１２３４", ReasonCommon},
		{"one character repeated", Policy{}, "zzzzzzzzzzzzzzzz", ReasonCommon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.password, ids...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Code != tt.want {
				t.Fatalf("err = %v, want reason %s", err, tt.want)
			}
			if tt.password != "" && strings.Contains(pe.Message, tt.password) {
				t.Fatalf("message %q holds the password", pe.Message)
			}
		})
	}
}

func TestCommonList_LowercaseUniqueAndLoaded(t *testing.T) {
	sc := bufio.NewScanner(strings.NewReader(commonText))
	seen := map[string]bool{}
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if line != strings.ToLower(line) {
			t.Errorf("%q is not lower case: it could never match", line)
		}
		if seen[line] {
			t.Errorf("%q is listed twice", line)
		}
		seen[line] = true
	}
	if n < 100 || len(common) != n {
		t.Fatalf("list has %d entries, %d loaded", n, len(common))
	}
}

func TestGenerate_PassesPolicyAndIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		pw := Generate()
		if len(pw) < 26 {
			t.Fatalf("Generate() = %d characters", len(pw))
		}
		if err := (Policy{}).Check(pw, "login", "login@example.com"); err != nil {
			t.Fatalf("Generate() refused by the default policy: %v", err)
		}
		if seen[pw] {
			t.Fatal("Generate() repeated itself")
		}
		seen[pw] = true
	}
}
