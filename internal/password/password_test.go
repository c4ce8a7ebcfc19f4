package password

import (
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// cheap are parameters that keep tests fast; the format and the checks are
// the same as with the defaults.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := New(p)
	if err != nil {
		t.Fatalf("New(%+v): %v", p, err)
	}
	return h
}

var phcShape = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHash_PHCStringThatVerifies(t *testing.T) {
	h := newHasher(t, cheap)
	tests := []struct{ name, password string }{
		{"ascii", "correct horse battery staple"},
		{"unicode", "Fußgänger-Übergänge 🚸 überall"},
		{"empty", ""},
		{"max length", strings.Repeat("x", MaxBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := h.Hash(tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if !phcShape.Match(phc) {
				t.Fatalf("hash %s is not a PHC argon2id string", phc)
			}
			if strings.Contains(string(phc), tt.password) && tt.password != "" {
				t.Fatal("the hash holds the password")
			}
			ok, rehash, err := h.Verify(phc, tt.password)
			if !ok || rehash || err != nil {
				t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(phc, tt.password+"!")
			if ok || rehash || err != nil {
				t.Fatalf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestHash_FreshSaltEachTime(t *testing.T) {
	h := newHasher(t, cheap)
	a, _ := h.Hash("same password twice")
	b, _ := h.Hash("same password twice")
	if string(a) == string(b) {
		t.Fatalf("two hashes of one password are equal: %s", a)
	}
}

func TestHash_TooLong_Refused(t *testing.T) {
	h := newHasher(t, cheap)
	if _, err := h.Hash(strings.Repeat("x", MaxBytes+1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
}

func TestVerify_TooLongPassword_NoMatchNoError(t *testing.T) {
	h := newHasher(t, cheap)
	long := strings.Repeat("x", MaxBytes+1)
	phc, _ := h.Hash(long[:MaxBytes])
	if ok, _, err := h.Verify(phc, long); ok || err != nil {
		t.Fatalf("Verify = %v, %v; want false, nil", ok, err)
	}
}

// The C reference implementation's output: echo -n password | argon2
// somesalt -id -t 2 -m 16 -p 4 -l 32 -e. Matching it shows the format and
// the derivation interoperate with other argon2id implementations.
const referencePHC = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"

func TestVerify_ReferenceImplementationHash(t *testing.T) {
	h := newHasher(t, cheap)
	ok, rehash, err := h.Verify([]byte(referencePHC), "password")
	if !ok || !rehash || err != nil {
		t.Fatalf("Verify = %v, %v, %v; want true, true (other params), nil", ok, rehash, err)
	}
	if ok, _, _ := h.Verify([]byte(referencePHC), "Password"); ok {
		t.Fatal("a different password matched")
	}
}

func TestVerify_NeedsRehashWhenParamsDiffer(t *testing.T) {
	old := newHasher(t, cheap)
	phc, _ := old.Hash("a long enough passphrase")
	tests := []struct {
		name     string
		p        Params
		password string
		wantOK   bool
		wantRe   bool
	}{
		{"same params", cheap, "a long enough passphrase", true, false},
		{"more memory", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, "a long enough passphrase", true, true},
		{"more time", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, "a long enough passphrase", true, true},
		{"longer key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, "a long enough passphrase", true, true},
		{"longer salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, "a long enough passphrase", true, true},
		{"wrong password never asks for a rehash", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, "another passphrase", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, re, err := newHasher(t, tt.p).Verify(phc, tt.password)
			if ok != tt.wantOK || re != tt.wantRe || err != nil {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v, nil", ok, re, err, tt.wantOK, tt.wantRe)
			}
		})
	}
}

func TestVerify_NormalisesToNFKC(t *testing.T) {
	h := newHasher(t, cheap)
	tests := []struct{ name, stored, typed string }{
		{"composed and decomposed é", "caf\u00e9 au lait, s'il vous plaît", "cafe\u0301 au lait, s'il vous plaît"},
		{"ligature and letters", "o\ufb03ce password here", "office password here"},
		{"full-width and ASCII", "ＡＢＣ123456789xyz", "ABC123456789xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, _ := h.Hash(tt.stored)
			if ok, _, err := h.Verify(phc, tt.typed); !ok || err != nil {
				t.Fatalf("Verify(%q against %q) = %v, %v", tt.typed, tt.stored, ok, err)
			}
		})
	}
}

func TestVerify_HostileOrMalformedHash_ErrorFast(t *testing.T) {
	h := newHasher(t, cheap)
	for _, phc := range []string{
		"$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=4294967295,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=2,p=255$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"",
		"plaintext-password",
	} {
		start := time.Now()
		ok, re, err := h.Verify([]byte(phc), "password")
		if ok || re || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrMalformed", phc, ok, re, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Verify(%q) took %v: the bound was not checked before hashing", phc, d)
		}
	}
}

// Dummy must cost what a Verify costs. Time is a noisy measure on a shared
// machine; the memory argon2id fills is not, and it is the cost driver.
func TestDummy_FillsTheMemoryOfAVerify(t *testing.T) {
	p := Params{Memory: 4096, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := newHasher(t, p)
	phc, _ := h.Hash("some password that is long")
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	verify := allocated(func() { _, _, _ = h.Verify(phc, "wrong password guess") })
	dummy := allocated(func() { h.Dummy("wrong password guess") })
	const kib = 1024
	if verify < uint64(p.Memory)*kib || dummy < uint64(p.Memory)*kib {
		t.Fatalf("verify allocated %d B, dummy %d B; both should fill %d KiB", verify, dummy, p.Memory)
	}
	if dummy < verify*9/10 || dummy > verify*11/10 {
		t.Fatalf("dummy allocated %d B, verify %d B: the costs differ", dummy, verify)
	}
}

func TestNew_ParamsOutOfBounds_Refused(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"zero", Params{}},
		{"memory below 8 per thread", Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{"memory over 1 GiB", Params{Memory: MaxMemory + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"time 0", Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"time 11", Params{Memory: 64, Time: 11, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"threads 17", Params{Memory: 1024, Time: 1, Threads: 17, SaltLen: 16, KeyLen: 32}},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 7, KeyLen: 32}},
		{"short key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 15}},
		{"long key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 65}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.p); err == nil {
				t.Fatalf("New(%+v) accepted", tt.p)
			}
		})
	}
	if _, err := New(DefaultParams()); err != nil {
		t.Fatalf("DefaultParams refused: %v", err)
	}
}

func TestDefaultParams_OWASP(t *testing.T) {
	if p := DefaultParams(); p != (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Fatalf("DefaultParams = %+v", p)
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Params
	}{{"default", DefaultParams()}, {"cheap", cheap}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHasher(b, bc.p)
			phc, err := h.Hash("benchmark password 1234")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if ok, _, _ := h.Verify(phc, "benchmark password 1234"); !ok {
					b.Fatal("no match")
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifies/s")
		})
	}
}
