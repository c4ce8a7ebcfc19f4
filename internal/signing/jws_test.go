package signing

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/store"
)

var algs = []string{AlgES256, AlgEdDSA, AlgRS256}

type testClaims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

func TestSignVerify_RoundTrip(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			k := newMemKeyring(t, alg, store.KeyActive, store.KeyNext)
			claims := testClaims{Sub: "client-1", Exp: 1700000000}
			tok, err := k.Sign("at+jwt", claims)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"at+jwt", "AT+JWT", "application/at+jwt", ""} {
				payload, kid, err := k.Verify(tok, want)
				if err != nil {
					t.Fatalf("Verify(wantTyp %q): %v", want, err)
				}
				if kid != k.ActiveKeyID() {
					t.Fatalf("kid = %q, want %q", kid, k.ActiveKeyID())
				}
				var got testClaims
				if err := json.Unmarshal(payload, &got); err != nil || got != claims {
					t.Fatalf("payload = %s (%v)", payload, err)
				}
			}
		})
	}
}

func TestSign_HeaderCarriesAlgKidTyp(t *testing.T) {
	for _, alg := range algs {
		k := newMemKeyring(t, alg, store.KeyActive)
		tok, err := k.Sign("at+jwt", map[string]any{"a": 1})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]string
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"alg": alg, "kid": k.ActiveKeyID(), "typ": "at+jwt"}
		if len(h) != len(want) || h["alg"] != want["alg"] || h["kid"] != want["kid"] || h["typ"] != want["typ"] {
			t.Fatalf("header = %v, want %v", h, want)
		}
	}
}

// TestSign_VerifiedByGoJose checks Sign's output with an independent JOSE
// implementation that only knows the published JWKS.
func TestSign_VerifiedByGoJose(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			k := newMemKeyring(t, alg, store.KeyActive, store.KeyNext)
			tok, err := k.Sign("at+jwt", testClaims{Sub: "s", Exp: 42})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := k.JWKS()
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(body, &set); err != nil {
				t.Fatalf("JWKS does not parse: %v", err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
			}
			for _, jwk := range set.Keys {
				if !jwk.IsPublic() || jwk.Use != "sig" || jwk.Algorithm != alg || !jwk.Valid() {
					t.Fatalf("bad JWK in set: %+v", jwk)
				}
			}
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			hdr := jws.Signatures[0].Protected
			if hdr.KeyID != k.ActiveKeyID() || hdr.ExtraHeaders["typ"] != "at+jwt" {
				t.Fatalf("go-jose header = %+v", hdr)
			}
			keys := set.Key(hdr.KeyID)
			if len(keys) != 1 {
				t.Fatalf("JWKS has %d keys with kid %s", len(keys), hdr.KeyID)
			}
			payload, err := jws.Verify(keys[0])
			if err != nil {
				t.Fatalf("go-jose Verify: %v", err)
			}
			if string(payload) != `{"sub":"s","exp":42}` {
				t.Fatalf("payload = %s", payload)
			}
		})
	}
}

// TestVerify_AcceptsGoJoseTokens checks the other direction: what a standard
// JOSE library signs with a keyring key, Verify accepts.
func TestVerify_AcceptsGoJoseTokens(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			k := newMemKeyring(t, alg, store.KeyActive)
			kk := signingKeyOf(t, k, k.ActiveKeyID())
			var priv any = kk.ecPriv
			switch alg {
			case AlgEdDSA:
				priv = kk.edPriv
			case AlgRS256:
				priv = kk.rsaPriv
			}
			signer, err := jose.NewSigner(
				jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: priv, KeyID: kk.kid}},
				(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("extra", "x"))
			if err != nil {
				t.Fatal(err)
			}
			for range 20 { // ES256 r or s with leading zero bytes turn up now and then
				obj, err := signer.Sign([]byte(`{"sub":"x"}`))
				if err != nil {
					t.Fatal(err)
				}
				tok, err := obj.CompactSerialize()
				if err != nil {
					t.Fatal(err)
				}
				payload, kid, err := k.Verify(tok, "at+jwt")
				if err != nil || kid != kk.kid || string(payload) != `{"sub":"x"}` {
					t.Fatalf("Verify = %s, %q, %v", payload, kid, err)
				}
			}
		})
	}
}

func TestVerify_AllPublishedKeys(t *testing.T) {
	k, rows := newMemKeyringRows(t, AlgES256, store.KeyActive, store.KeyNext, store.KeyRetired)
	if n := len(k.set.Load().keys); n != 3 {
		t.Fatalf("%d published keys, want 3", n)
	}
	for _, row := range rows {
		// The snapshot holds no private part of a retired key, so sign
		// with a copy parsed from its record.
		kk, err := parseKey(row, k.sealer, true)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := kk.sign("at+jwt", []byte(`{"sub":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, kid, err := k.Verify(tok, "at+jwt"); err != nil || kid != row.ID {
			t.Fatalf("%s key %s: Verify = %q, %v", row.State, row.ID, kid, err)
		}
	}
	if k.set.Load().byKID[rows[2].ID].canSign() {
		t.Fatal("retired key has its private part loaded")
	}
}

func b64s(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerify_Refuses(t *testing.T) {
	k := newMemKeyring(t, AlgES256, store.KeyActive)
	other := newMemKeyring(t, AlgES256, store.KeyActive)
	ed := newMemKeyring(t, AlgEdDSA, store.KeyActive)
	kid := k.ActiveKeyID()
	good, err := k.Sign("at+jwt", testClaims{Sub: "a"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	hdr := func(s string) string { return b64s(s) }
	body, _ := k.JWKS()
	hmacTok := func(secret []byte) string {
		in := hdr(`{"alg":"HS256","kid":"`+kid+`","typ":"at+jwt"}`) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	pub := signingKeyOf(t, k, kid).ecPub
	pubBytes, _ := pub.Bytes()
	edTok, _ := ed.Sign("at+jwt", testClaims{Sub: "a"})
	edParts := strings.Split(edTok, ".")
	otherTok, _ := other.Sign("at+jwt", testClaims{Sub: "a"})
	tamperedPayload := parts[0] + "." + b64s(`{"sub":"admin"}`) + "." + parts[2]
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[5] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes)
	// The last character of a 64-byte signature carries 4 bits, of which
	// only 2 are data: flipping a padding bit is a second spelling.
	last := parts[2][len(parts[2])-1]
	alt := strings.IndexByte("AEIMQUYcgkosw048", last)
	nonCanonical := parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string("BFJNRVZdhlptx159"[alt])

	tests := []struct {
		name, token, typ string
		want             error
	}{
		{"alg none without signature", hdr(`{"alg":"none","kid":"`+kid+`"}`) + "." + parts[1] + ".", "", ErrMalformed},
		{"alg none with a signature", hdr(`{"alg":"none","kid":"`+kid+`"}`) + "." + parts[1] + "." + parts[2], "", ErrAlgorithm},
		{"alg None", hdr(`{"alg":"None","kid":"`+kid+`"}`) + "." + parts[1] + "." + parts[2], "", ErrAlgorithm},
		{"HS256 keyed with the JWKS", hmacTok(body), "at+jwt", ErrAlgorithm},
		{"HS256 keyed with the public key", hmacTok(pubBytes), "at+jwt", ErrAlgorithm},
		{"alg of another family than the key", hdr(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`) + "." + parts[1] + "." + edParts[2], "at+jwt", ErrAlgorithm},
		{"RS256", hdr(`{"alg":"RS256","kid":"`+kid+`"}`) + "." + parts[1] + "." + parts[2], "", ErrAlgorithm},
		{"unknown kid", otherTok, "at+jwt", ErrUnknownKey},
		{"no kid", hdr(`{"alg":"ES256","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2], "at+jwt", ErrUnknownKey},
		{"wrong typ", mustSign(t, k, "JWT"), "at+jwt", ErrType},
		{"missing typ", mustSign(t, k, ""), "at+jwt", ErrType},
		{"typ not a string", hdr(`{"alg":"ES256","kid":"`+kid+`","typ":1}`) + "." + parts[1] + "." + parts[2], "at+jwt", ErrMalformed},
		{"crit header", hdr(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt","crit":["exp"],"exp":1}`) + "." + parts[1] + "." + parts[2], "at+jwt", ErrMalformed},
		{"upper-case member names", hdr(`{"ALG":"ES256","KID":"`+kid+`","TYP":"at+jwt"}`) + "." + parts[1] + "." + parts[2], "at+jwt", ErrMalformed},
		{"header not JSON", hdr(`not json`) + "." + parts[1] + "." + parts[2], "", ErrMalformed},
		{"header JSON null", hdr(`null`) + "." + parts[1] + "." + parts[2], "", ErrMalformed},
		{"header bad base64", "A." + parts[1] + "." + parts[2], "", ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], "", ErrMalformed},
		{"four segments", good + ".x", "", ErrMalformed},
		{"empty", "", "", ErrMalformed},
		{"empty header", "." + parts[1] + "." + parts[2], "", ErrMalformed},
		{"empty payload", parts[0] + ".." + parts[2], "", ErrMalformed},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "==", "", ErrMalformed},
		{"line break inside", parts[0] + "." + parts[1][:4] + "\n" + parts[1][4:] + "." + parts[2], "", ErrMalformed},
		{"space", " " + good, "", ErrMalformed},
		{"std base64 alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/", "", ErrMalformed},
		{"JWE-like five segments", "a.b.c.d.e", "", ErrMalformed},
		{"too large", parts[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + parts[2], "", ErrTooLarge},
		{"tampered payload", tamperedPayload, "at+jwt", ErrSignature},
		{"tampered signature", tamperedSig, "at+jwt", ErrSignature},
		{"non-canonical signature encoding", nonCanonical, "at+jwt", ErrSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + parts[2][:80], "at+jwt", ErrSignature},
		{"DER signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(rawToDERForTest(sigBytes)), "at+jwt", ErrSignature},
		{"zero signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), "at+jwt", ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, kid, err := k.Verify(tt.token, tt.typ)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %q, %q, %v; want %v", payload, kid, err, tt.want)
			}
			if payload != nil || kid != "" {
				t.Fatalf("Verify returned payload %q kid %q with an error", payload, kid)
			}
		})
	}
}

func rawToDERForTest(sig []byte) []byte {
	var buf [72]byte
	return bytes.Clone(rawToDER(sig, &buf))
}

func mustSign(t *testing.T, k *Keyring, typ string) string {
	t.Helper()
	tok, err := k.Sign(typ, testClaims{Sub: "a"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestDERConversion_RoundTrip(t *testing.T) {
	cases := [][2]*big.Int{
		{big.NewInt(1), big.NewInt(1)},
		{big.NewInt(0x7f), big.NewInt(0x80)},
		{new(big.Int).Lsh(big.NewInt(1), 255), new(big.Int).Lsh(big.NewInt(1), 247)},
		{new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)), big.NewInt(0x0100)},
	}
	for _, c := range cases {
		var raw [64]byte
		c[0].FillBytes(raw[:32])
		c[1].FillBytes(raw[32:])
		var buf [72]byte
		der := rawToDER(raw[:], &buf)
		var back [64]byte
		if !derToRaw(der, &back) || back != raw {
			t.Fatalf("round trip of r=%x s=%x failed: der %x", c[0], c[1], der)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01}, {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}} {
		var out [64]byte
		if derToRaw(bad, &out) {
			t.Fatalf("derToRaw accepted %x", bad)
		}
	}
}

func TestSign_NoActiveKey(t *testing.T) {
	k := newMemKeyring(t, AlgES256, store.KeyNext)
	if _, err := k.Sign("at+jwt", nil); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("Sign = %v, want ErrNoActiveKey", err)
	}
	if k.ActiveKeyID() != "" {
		t.Fatal("ActiveKeyID with no active key")
	}
}

func TestSign_UnencodableClaims_Error(t *testing.T) {
	k := newMemKeyring(t, AlgES256, store.KeyActive)
	if _, err := k.Sign("at+jwt", map[string]any{"c": make(chan int)}); err == nil {
		t.Fatal("Sign accepted unencodable claims")
	}
}

func TestJWKS_ETagFollowsContent(t *testing.T) {
	a := newMemKeyring(t, AlgES256, store.KeyActive)
	b := newMemKeyring(t, AlgES256, store.KeyActive)
	bodyA, etagA := a.JWKS()
	_, etagB := b.JWKS()
	if etagA == etagB || !strings.HasPrefix(etagA, `"`) || strings.HasPrefix(etagA, `W/`) {
		t.Fatalf("etags %s %s", etagA, etagB)
	}
	if bytes.Contains(bodyA, []byte(`"d"`)) {
		t.Fatal("JWKS contains a private key member")
	}
}
