package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Bearer ", "Bearer", "BearerX abc", "Basic dXNlcg==",
		"Bearer a b", "Bearer abc==", "Bearer ==", "Bearer a=b", "Bearer \tabc", "Bearer abc \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok, err := parseBearer(v)
		if !ok {
			if err != nil || tok != "" {
				t.Fatalf("not bearer but token %q err %v", tok, err)
			}
			return
		}
		if err != nil {
			if tok != "" || err.Status == 0 {
				t.Fatalf("error %v with token %q", err, tok)
			}
			return
		}
		if tok == "" || len(tok) > maxTokenLen || !strings.Contains(v, tok) {
			t.Fatalf("accepted %q from %q", tok, v)
		}
		if tok[0] == ' ' || tok[len(tok)-1] == ' ' || tok[len(tok)-1] == '\t' {
			t.Fatalf("token %q is not trimmed", tok)
		}
	})
}

func FuzzIsToken68(f *testing.F) {
	for _, s := range []string{"abc", "a.b.c", "abc==", "==", "a=b", "", "a b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := s != ""
		pad := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '=' && i > 0:
				pad = true
			case pad || !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/", rune(c)):
				want = false
			}
		}
		if got := isToken68(s); got != want {
			t.Fatalf("isToken68(%q) = %v, want %v", s, got, want)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"ksk_abc", "  legacy-key-1234567890  ", "", "a b", "\x00key", strings.Repeat("k", 300), "ключ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, ok := parseKey(v)
		if !ok {
			return
		}
		if k == "" || len(k) > maxKeyLen || !strings.Contains(v, k) {
			t.Fatalf("accepted %q from %q", k, v)
		}
		for i := 0; i < len(k); i++ {
			if k[i] <= ' ' || k[i] >= 0x7f {
				t.Fatalf("key %q has byte %#x", k, k[i])
			}
		}
	})
}

// FuzzVerifyToken feeds arbitrary strings to the verifier: none may verify
// unless it is exactly a token the test key signed, and none may panic.
func FuzzVerifyToken(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	g, err := New(Config{Issuer: "https://iss", Now: func() time.Time { return now },
		KeySet: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k", Algorithm: "ES256"}}}})
	if err != nil {
		f.Fatal(err)
	}
	sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k"))
	body, _ := json.Marshal(map[string]any{"iss": "https://iss", "aud": "https://iss", "sub": "s", "client_id": "c",
		"jti": "j", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "a b"})
	obj, _ := sg.Sign(body)
	good, _ := obj.CompactSerialize()
	f.Add(good)
	parts := strings.Split(good, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(parts[0] + ".e30." + parts[2])
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := g.VerifyToken(context.Background(), tok)
		if err == nil && tok != good {
			t.Fatalf("verified a token the key did not sign: %q → %+v", tok, p)
		}
	})
}
