package signing

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyshift/keyshift/internal/store"
)

// benchClaims is the shape of an RFC 9068 access token's claims.
type benchClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Tenant   string `json:"tenant"`
}

func newBenchClaims() benchClaims {
	now := time.Unix(1767225600, 0)
	return benchClaims{
		Iss: "https://auth.example.com", Sub: "cl_0123456789abcdef", Aud: "https://api.example.com",
		Exp: now.Add(24 * time.Hour).Unix(), Iat: now.Unix(), Jti: "0123456789abcdefghijkl",
		ClientID: "cl_0123456789abcdef", Scope: "core.invoice.read core.invoice.write", Tenant: "acme",
	}
}

func BenchmarkSign(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			k := newMemKeyring(b, alg, store.KeyActive, store.KeyNext)
			claims := newBenchClaims()
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := k.Sign("at+jwt", claims); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			k := newMemKeyring(b, alg, store.KeyActive, store.KeyNext, store.KeyRetired)
			tok, err := k.Sign("at+jwt", newBenchClaims())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := k.Verify(tok, "at+jwt"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignWith signs with each algorithm of a keyring that keeps all
// three; SignWith of the primary algorithm should cost what Sign does.
func BenchmarkSignWith(b *testing.B) {
	k := newAllAlgsKeyring(b)
	for _, alg := range k.Algs() {
		b.Run(alg, func(b *testing.B) {
			claims := newBenchClaims()
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := k.SignWith(alg, "at+jwt", claims); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
		})
	}
}

// goJoseSigner returns go-jose's signer for the active key of k's primary
// algorithm, with the header Sign writes ({alg, kid, typ}); it is built
// once, as a server using go-jose would keep one per key and typ.
func goJoseSigner(tb testing.TB, k *Keyring, typ string) jose.Signer {
	tb.Helper()
	kk := signingKeyOf(tb, k, k.ActiveKeyID())
	s, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(kk.alg), Key: jose.JSONWebKey{Key: privateOf(kk), KeyID: kk.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkSignVsGoJose signs the same RFC 9068 claims with the same key
// three ways, so that one run gives the ratios: this package's signer
// (hand), go-jose's JWT builder (jwt.Signed, which re-encodes the claims
// through a map), and go-jose's signer over the same JSON payload
// (jose.Signer.Sign then CompactSerialize, the cheapest go-jose path).
func BenchmarkSignVsGoJose(b *testing.B) {
	for _, alg := range algs {
		k := newMemKeyring(b, alg, store.KeyActive)
		js := goJoseSigner(b, k, "at+jwt")
		claims := newBenchClaims()
		b.Run(alg+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := k.Sign("at+jwt", &claims); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/gojose-jwt", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := jwt.Signed(js).Claims(&claims).Serialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/gojose-jws", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				payload, err := json.Marshal(&claims)
				if err != nil {
					b.Fatal(err)
				}
				obj, err := js.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := obj.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuPerOp reports the process's CPU time (user and system, GC included)
// per iteration as cpu-ns/op when the returned func is called after the
// loop. On a shared machine wall time per op swings with other load; CPU
// time measures the work itself, so ratios between variants hold.
func cpuPerOp(b *testing.B) func() {
	start := processCPU(b)
	return func() { b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyVsGoJose verifies one token per algorithm with Verify
// (hand) and with go-jose as guard does (ParseSignedCompact, then Verify
// with the public JWK), in one run.
func BenchmarkVerifyVsGoJose(b *testing.B) {
	for _, alg := range algs {
		k := newMemKeyring(b, alg, store.KeyActive, store.KeyNext)
		claims := newBenchClaims()
		tok, err := k.Sign("at+jwt", &claims)
		if err != nil {
			b.Fatal(err)
		}
		pub := signingKeyOf(b, k, k.ActiveKeyID()).jwk
		allowed := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
		b.Run(alg+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, _, err := k.Verify(tok, "at+jwt"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/gojose", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(tok, allowed)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
