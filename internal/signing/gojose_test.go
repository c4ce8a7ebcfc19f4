package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// These tests hold the hand-written signer (jws.go) to go-jose, the JOSE
// implementation that guard, the credentials check and client assertions
// use: same bytes where the algorithm is deterministic, same header and
// payload where it is not, and every token verifiable by go-jose.

// awkwardClaims are access-token claims whose strings need JSON escaping.
func awkwardClaims() []benchClaims {
	base := newBenchClaims()
	var out []benchClaims
	for _, s := range []string{
		`quote " backslash \ slash /`,
		"html <script>&amp;</script>",
		"unicode é 漢字 🔑 \u2028 \u2029",
		"control \x00 \x01 \b \f \t \n \r \x1f \x7f",
		"invalid utf-8 \xff\xfe \xc3",
		"",
	} {
		c := base
		c.Sub, c.Scope, c.Tenant = s, s+" core.invoice.read", s
		out = append(out, c)
	}
	return append(out, base)
}

func TestSign_SameAsGoJose_EveryAlg(t *testing.T) {
	k := newAllAlgsKeyring(t)
	for _, alg := range k.Algs() {
		for _, typ := range []string{"at+jwt", "JWT", ""} {
			t.Run(alg+"/"+typ, func(t *testing.T) {
				for _, claims := range awkwardClaims() {
					checkAgainstGoJose(t, k, alg, typ, &claims)
				}
			})
		}
	}
}

// FuzzSign_SameAsGoJose varies the strings of the claims: whatever they
// hold, a token must verify with go-jose, carry encoding/json's bytes for
// the claims and go-jose's header, and equal go-jose's whole token for the
// deterministic algorithms.
func FuzzSign_SameAsGoJose(f *testing.F) {
	k := newAllAlgsKeyring(f)
	for _, c := range awkwardClaims() {
		f.Add(c.Sub, c.Scope, c.Tenant, c.Exp)
	}
	f.Fuzz(func(t *testing.T, sub, scope, tenant string, exp int64) {
		c := newBenchClaims()
		c.Sub, c.Scope, c.Tenant, c.Exp = sub, scope, tenant, exp
		for _, alg := range k.Algs() {
			checkAgainstGoJose(t, k, alg, "at+jwt", &c)
		}
	})
}

// checkAgainstGoJose signs claims with SignWith(alg, typ) and with go-jose
// for the same key, and compares.
func checkAgainstGoJose(t *testing.T, k *Keyring, alg, typ string, claims *benchClaims) {
	t.Helper()
	tok, err := k.SignWith(alg, typ, claims)
	if err != nil {
		t.Fatal(err)
	}
	kk, err := k.activeFor(alg)
	if err != nil {
		t.Fatal(err)
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: privateOf(kk), KeyID: kk.kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	want, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}

	// Header and payload: byte for byte. The signature too where the
	// algorithm is deterministic (Ed25519, PKCS #1 v1.5).
	if alg == AlgES256 {
		if signingInput(tok) != signingInput(want) {
			t.Fatalf("signing input differs from go-jose's:\n got %s\nwant %s", signingInput(tok), signingInput(want))
		}
	} else if tok != want {
		t.Fatalf("token differs from go-jose's:\n got %s\nwant %s", tok, want)
	}

	// go-jose verifies it with the published JWK, refusing other algs.
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("go-jose ParseSignedCompact: %v", err)
	}
	got, err := jws.Verify(publishedJWK(t, k, kk.kid))
	if err != nil {
		t.Fatalf("go-jose Verify: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload = %q, want encoding/json's %q", got, payload)
	}
	if h := jws.Signatures[0].Protected; h.KeyID != kk.kid || h.Algorithm != alg || (typ != "" && h.ExtraHeaders[jose.HeaderType] != typ) {
		t.Fatalf("go-jose header = %+v", h)
	}

	// go-jose's JWT builder writes the claims through a map (keys sorted)
	// with its own JSON encoder, which spells some escapes differently
	// (\u0008 where encoding/json writes \b): the same values, other bytes.
	viaJWT, err := jwt.Signed(js).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	hdr, jwtPayload := segments(t, viaJWT)
	if ourHdr, _ := segments(t, tok); !bytes.Equal(hdr, ourHdr) {
		t.Fatalf("jwt.Signed header %s, ours %s", hdr, ourHdr)
	}
	if a, b := decodeJSON(t, payload), decodeJSON(t, jwtPayload); !reflect.DeepEqual(a, b) {
		t.Fatalf("jwt.Signed claims %s, ours %s", jwtPayload, payload)
	}
}

// decodeJSON decodes a JSON object keeping numbers as written.
func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// signingInput is a compact JWS without its signature.
func signingInput(tok string) string { return tok[:strings.LastIndexByte(tok, '.')] }

// segments decodes a compact JWS's header and payload.
func segments(t *testing.T, tok string) (hdr, payload []byte) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments", tok, len(parts))
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	payload, err = base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return hdr, payload
}

// publishedJWK returns the public key kid from k's JWKS document, as a
// verifier fetching it would see it.
func publishedJWK(t *testing.T, k *Keyring, kid string) jose.JSONWebKey {
	t.Helper()
	body, _ := k.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(kid)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("JWKS has %d public keys with kid %s", len(keys), kid)
	}
	return keys[0]
}
