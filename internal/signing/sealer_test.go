package signing

import (
	"bytes"
	"errors"
	"testing"
)

func testMaster(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newTestSealer(t testing.TB, b byte) *Sealer {
	t.Helper()
	s, err := NewSealer(testMaster(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealer_RoundTrip(t *testing.T) {
	s := newTestSealer(t, 1)
	for _, plain := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("key"), 1000)} {
		sealed, err := s.Seal(plain, []byte("kid1"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(sealed, []byte("kid1"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealer_SameInputTwice_DifferentCiphertexts(t *testing.T) {
	s := newTestSealer(t, 1)
	a, _ := s.Seal([]byte("secret"), []byte("k"))
	b, _ := s.Seal([]byte("secret"), []byte("k"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal: nonce reused")
	}
	if bytes.Contains(a, []byte("secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
}

func TestSealer_Refuses(t *testing.T) {
	s := newTestSealer(t, 1)
	sealed, err := s.Seal([]byte("private key bytes"), []byte("kid1"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		aad    string
	}{
		{"wrong aad (value moved to another key's row)", s, sealed, "kid2"},
		{"empty aad", s, sealed, ""},
		{"wrong master secret", newTestSealer(t, 2), sealed, "kid1"},
		{"tampered nonce", s, flip(1), "kid1"},
		{"tampered ciphertext", s, flip(14), "kid1"},
		{"tampered tag", s, flip(len(sealed) - 1), "kid1"},
		{"truncated", s, sealed[:len(sealed)-1], "kid1"},
		{"too short", s, sealed[:10], "kid1"},
		{"empty", s, nil, "kid1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
	t.Run("unknown version", func(t *testing.T) {
		c := bytes.Clone(sealed)
		c[0] = 9
		if _, err := s.Open(c, []byte("kid1")); err == nil {
			t.Fatal("Open accepted an unknown version")
		}
	})
}

func TestNewSealer_ShortMaster_Refused(t *testing.T) {
	if _, err := NewSealer(make([]byte, 31)); err == nil {
		t.Fatal("NewSealer accepted a 31-byte master secret")
	}
}
