package password

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var parseCases = []struct {
	name string
	phc  string
	ok   bool
}{
	{"reference", referencePHC, true},
	{"owasp params", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", true},
	{"memory at 1 GiB", "$argon2id$v=19$m=1048576,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", true},
	{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"memory below 8 per lane", "$argon2id$v=19$m=31,t=1,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"time 10", "$argon2id$v=19$m=64,t=10,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", true},
	{"time 11", "$argon2id$v=19$m=64,t=11,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"time 0", "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"threads 16", "$argon2id$v=19$m=128,t=1,p=16$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", true},
	{"threads 17", "$argon2id$v=19$m=256,t=1,p=17$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"threads 256 wraps uint8", "$argon2id$v=19$m=4096,t=1,p=256$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"argon2i", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"version 16", "$argon2id$v=16$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"version missing", "$argon2id$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"params reordered", "$argon2id$v=19$t=2,m=65536,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"extra keyid param", "$argon2id$v=19$m=65536,t=2,p=4,keyid=a$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"leading zero", "$argon2id$v=19$m=065536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"plus sign", "$argon2id$v=19$m=+65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"empty value", "$argon2id$v=19$m=,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"padded salt", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ=$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"url-safe base64", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK_oH9p7VIiV56G_64Zo_8GaUw434IimaPqxwCo", false},
	{"stray bits in hash", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCp", false},
	{"salt too short", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbA$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"hash too short", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/", false},
	{"hash missing", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ", false},
	{"extra field", referencePHC + "$", false},
	{"trailing newline", referencePHC + "\n", false},
	{"huge", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 300) + "$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", false},
	{"empty", "", false},
}

func TestParsePHC(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			p, salt, key, err := parsePHC([]byte(tt.phc))
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := encodePHC(p, salt, key); string(got) != tt.phc {
					t.Fatalf("re-encoded as %s", got)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed (parsed %+v)", err, p)
			}
		})
	}
}

func TestParsePHC_ErrorDoesNotEchoTheHash(t *testing.T) {
	_, _, _, err := parsePHC([]byte("$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/"))
	if err == nil || strings.Contains(err.Error(), "GpZ3") || strings.Contains(err.Error(), "c29t") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzParsePHC checks that the parser never panics, that whatever it
// accepts is within the hard limits, and that it accepts exactly one
// spelling of each hash (re-encoding gives back the input).
func FuzzParsePHC(f *testing.F) {
	for _, tt := range parseCases {
		f.Add([]byte(tt.phc))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, salt, key, err := parsePHC(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted out-of-bounds params %+v: %v", p, err)
		}
		if int(p.SaltLen) != len(salt) || int(p.KeyLen) != len(key) {
			t.Fatalf("params %+v disagree with salt %d and key %d bytes", p, len(salt), len(key))
		}
		if out := encodePHC(p, salt, key); !bytes.Equal(out, in) {
			t.Fatalf("accepted %q, re-encoded as %q", in, out)
		}
	})
}
