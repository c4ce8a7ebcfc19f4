package signing

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/store"
)

// allAlgs is a configuration keeping every supported algorithm.
var allAlgs = Config{Alg: AlgES256, ExtraAlgs: []string{AlgEdDSA, AlgRS256}}

// newAllAlgsKeyring returns a keyring keeping every algorithm, with an
// active and a next key of each.
func newAllAlgsKeyring(t testing.TB) *Keyring {
	t.Helper()
	var keys []memKey
	for _, alg := range allAlgs.algs() {
		keys = append(keys, memKey{alg, store.KeyActive}, memKey{alg, store.KeyNext})
	}
	k, _ := newMultiKeyring(t, allAlgs, keys...)
	return k
}

func TestConfig_Algs(t *testing.T) {
	tests := []struct {
		name    string
		alg     string
		extra   []string
		want    []string
		wantErr string
	}{
		{"defaults: ES256 for access tokens, RS256 for OpenID Connect", "", nil, []string{AlgES256, AlgRS256}, ""},
		{"EdDSA primary gains RS256", AlgEdDSA, nil, []string{AlgEdDSA, AlgRS256}, ""},
		{"RS256 primary needs nothing more", AlgRS256, nil, []string{AlgRS256}, ""},
		{"empty extras keep the primary only", AlgES256, []string{}, []string{AlgES256}, ""},
		{"duplicates and the primary collapse", AlgES256, []string{AlgEdDSA, AlgRS256, AlgEdDSA, AlgES256}, []string{AlgES256, AlgEdDSA, AlgRS256}, ""},
		{"unsupported primary", "PS256", nil, nil, `"PS256"`},
		{"unsupported extra", AlgES256, []string{AlgRS256, "HS256"}, nil, `"HS256"`},
		{"none as extra", AlgES256, []string{"none"}, nil, `"none"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Config{Alg: tt.alg, ExtraAlgs: tt.extra}.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("withDefaults = %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k := &Keyring{cfg: cfg, algs: cfg.algs()}
			if got := k.Algs(); !slices.Equal(got, tt.want) {
				t.Fatalf("Algs() = %v, want %v", got, tt.want)
			}
			k.Algs()[0] = "x" // a copy: the caller cannot change the keyring
			if k.algs[0] == "x" {
				t.Fatal("Algs returned the keyring's own slice")
			}
		})
	}
}

// TestSignWith_EachAlg_VerifiedByKeyringAndGoJose signs with each kept
// algorithm and checks the token with Verify and with go-jose, which knows
// only the published JWKS.
func TestSignWith_EachAlg_VerifiedByKeyringAndGoJose(t *testing.T) {
	k := newAllAlgsKeyring(t)
	body, _ := k.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("go-jose cannot parse the JWKS: %v", err)
	}
	if len(set.Keys) != 6 {
		t.Fatalf("JWKS has %d keys, want an active and a next key of 3 algorithms", len(set.Keys))
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, alg := range allAlgs.algs() {
		t.Run(alg, func(t *testing.T) {
			claims := testClaims{Sub: "client-" + alg, Exp: 1700000000}
			tok, err := k.SignWith(alg, "JWT", claims)
			if err != nil {
				t.Fatal(err)
			}
			kid := activeKID(k, alg)
			payload, gotKID, err := k.Verify(tok, "JWT")
			if err != nil || gotKID != kid {
				t.Fatalf("Verify = kid %q, %v; want kid %s", gotKID, err, kid)
			}
			var got testClaims
			if err := json.Unmarshal(payload, &got); err != nil || got != claims {
				t.Fatalf("payload = %s", payload)
			}

			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("go-jose parse: %v", err)
			}
			hdr := jws.Signatures[0].Protected
			if hdr.Algorithm != alg || hdr.KeyID != kid || hdr.ExtraHeaders["typ"] != "JWT" {
				t.Fatalf("header = %+v", hdr)
			}
			keys := set.Key(kid)
			if len(keys) != 1 || keys[0].Algorithm != alg || keys[0].Use != "sig" || !keys[0].IsPublic() || !keys[0].Valid() {
				t.Fatalf("JWKS entry of %s = %+v", kid, keys)
			}
			if _, err := jws.Verify(keys[0]); err != nil {
				t.Fatalf("go-jose Verify: %v", err)
			}
			for _, m := range raw.Keys {
				if m["kid"] != kid {
					continue
				}
				want := map[string][]string{
					AlgES256: {"kty", "kid", "alg", "use", "crv", "x", "y"},
					AlgEdDSA: {"kty", "kid", "alg", "use", "crv", "x"},
					AlgRS256: {"kty", "kid", "alg", "use", "n", "e"},
				}[alg]
				var members []string
				for name := range m {
					members = append(members, name)
				}
				slices.Sort(members)
				slices.Sort(want)
				if !slices.Equal(members, want) {
					t.Fatalf("JWK members %v, want %v", members, want)
				}
				if alg == AlgRS256 {
					pub := keys[0].Key.(*rsa.PublicKey)
					if pub.N.BitLen() != 2048 || pub.E != 65537 || m["kty"] != "RSA" {
						t.Fatalf("RSA JWK: %d bits, e %d, kty %v", pub.N.BitLen(), pub.E, m["kty"])
					}
				}
			}
		})
	}
	// Sign stays the primary algorithm's.
	tok := mustSign(t, k, "at+jwt")
	if _, kid, err := k.Verify(tok, "at+jwt"); err != nil || kid != k.ActiveKeyID() || kid != activeKID(k, AlgES256) {
		t.Fatalf("Sign: kid %q, %v; want the ES256 key %s", kid, err, activeKID(k, AlgES256))
	}
}

func TestSignWith_Refuses(t *testing.T) {
	k := newAllAlgsKeyring(t)
	nextOnly, _ := newMultiKeyring(t, Config{}, memKey{AlgES256, store.KeyActive}, memKey{AlgRS256, store.KeyNext})
	tests := []struct {
		name   string
		k      *Keyring
		alg    string
		claims any
		want   error
		naming string
	}{
		{"HS256 is not kept", k, "HS256", testClaims{}, ErrNoActiveKey, `"HS256"`},
		{"PS256 is not kept", k, "PS256", testClaims{}, ErrNoActiveKey, `"PS256"`},
		{"none is not kept", k, "none", testClaims{}, ErrNoActiveKey, `"none"`},
		{"algorithm names are case-sensitive", k, "rs256", testClaims{}, ErrNoActiveKey, `"rs256"`},
		{"empty algorithm", k, "", testClaims{}, ErrNoActiveKey, `""`},
		{"kept algorithm with only a next key", nextOnly, AlgRS256, testClaims{}, ErrNoActiveKey, AlgRS256},
		{"EdDSA not kept by this keyring", nextOnly, AlgEdDSA, testClaims{}, ErrNoActiveKey, AlgEdDSA},
		{"unencodable claims", k, AlgRS256, map[string]any{"c": make(chan int)}, nil, "encode claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.k.SignWith(tt.alg, "JWT", tt.claims)
			if err == nil || tok != "" {
				t.Fatalf("SignWith = %q, %v; want an error", tok, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("SignWith error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.naming) {
				t.Fatalf("SignWith error %q does not name %s", err, tt.naming)
			}
		})
	}
}

// signAs signs payload with the given private key as alg with header kid,
// through go-jose: a token an attacker holding that key could make.
func signAs(t *testing.T, alg jose.SignatureAlgorithm, priv any, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(`{"sub":"admin"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func privateOf(kk *key) any {
	switch {
	case kk.ecPriv != nil:
		return kk.ecPriv
	case kk.edPriv != nil:
		return kk.edPriv
	}
	return kk.rsaPriv
}

// TestVerify_AlgConfusion_Refused checks that a token naming a key of one
// algorithm cannot be verified as another algorithm, even with a signature
// that is valid under the algorithm it names, made by a key the keyring
// itself publishes.
func TestVerify_AlgConfusion_Refused(t *testing.T) {
	k := newAllAlgsKeyring(t)
	own := map[string]*key{}
	for _, alg := range allAlgs.algs() {
		own[alg] = signingKeyOf(t, k, activeKID(k, alg))
	}
	attacker := map[string]any{}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	attacker[AlgES256], attacker[AlgEdDSA], attacker[AlgRS256] = ec, ed, rs

	type row struct {
		name, token string
		want        error
	}
	var tests []row
	for _, hdrAlg := range allAlgs.algs() {
		for _, keyAlg := range allAlgs.algs() {
			if hdrAlg == keyAlg {
				continue
			}
			kid := own[keyAlg].kid
			tests = append(tests,
				row{hdrAlg + " header over an " + keyAlg + " kid, signed by the keyring's own " + hdrAlg + " key",
					signAs(t, jose.SignatureAlgorithm(hdrAlg), privateOf(own[hdrAlg]), kid), ErrAlgorithm},
				row{hdrAlg + " header over an " + keyAlg + " kid, signed by an attacker's " + hdrAlg + " key",
					signAs(t, jose.SignatureAlgorithm(hdrAlg), attacker[hdrAlg], kid), ErrAlgorithm})
		}
	}
	rsKID := own[AlgRS256].kid
	good, err := k.SignWith(AlgRS256, "at+jwt", testClaims{Sub: "a"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	hmacTok := func(secret []byte) string {
		in := b64s(`{"alg":"HS256","kid":"`+rsKID+`","typ":"at+jwt"}`) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	body, _ := k.JWKS()
	pubDER, _ := x509.MarshalPKIXPublicKey(own[AlgRS256].rsaPub)
	tampered := slices.Clone(sig)
	tampered[100] ^= 1
	// 256 bytes take 342 characters whose last carries 2 bits of data:
	// setting one of its 4 padding bits spells the same signature again.
	last := parts[2][len(parts[2])-1]
	nonCanonical := parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string("BRhx"[strings.IndexByte("AQgw", last)])
	enc := base64.RawURLEncoding.EncodeToString
	tests = append(tests,
		row{"HS256 keyed with the RSA public key (PKIX)", hmacTok(pubDER), ErrAlgorithm},
		row{"HS256 keyed with the RSA modulus", hmacTok(own[AlgRS256].rsaPub.N.Bytes()), ErrAlgorithm},
		row{"HS256 keyed with the JWKS", hmacTok(body), ErrAlgorithm},
		row{"PS256 by the keyring's own RSA key", signAs(t, jose.PS256, own[AlgRS256].rsaPriv, rsKID), ErrAlgorithm},
		row{"RS384 by the keyring's own RSA key", signAs(t, jose.RS384, own[AlgRS256].rsaPriv, rsKID), ErrAlgorithm},
		row{"RS512 by the keyring's own RSA key", signAs(t, jose.RS512, own[AlgRS256].rsaPriv, rsKID), ErrAlgorithm},
		row{"rs256 in lower case", b64s(`{"alg":"rs256","kid":"`+rsKID+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		row{"RS256 by an attacker's RSA key under the keyring's kid", signAs(t, jose.RS256, rs, rsKID), ErrSignature},
		row{"RS256 tampered signature", parts[0] + "." + parts[1] + "." + enc(tampered), ErrSignature},
		row{"RS256 tampered payload", parts[0] + "." + b64s(`{"sub":"admin"}`) + "." + parts[2], ErrSignature},
		row{"RS256 signature one byte short", parts[0] + "." + parts[1] + "." + enc(sig[1:]), ErrSignature},
		row{"RS256 signature with a leading zero byte", parts[0] + "." + parts[1] + "." + enc(append([]byte{0}, sig...)), ErrSignature},
		row{"RS256 signature of 64 bytes", parts[0] + "." + parts[1] + "." + enc(sig[:64]), ErrSignature},
		row{"RS256 zero signature", parts[0] + "." + parts[1] + "." + enc(make([]byte, 256)), ErrSignature},
		row{"RS256 non-canonical signature encoding", nonCanonical, ErrSignature},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, kid, err := k.Verify(tt.token, "at+jwt")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %q, %q, %v; want %v", payload, kid, err, tt.want)
			}
			if payload != nil || kid != "" {
				t.Fatalf("Verify returned payload %q kid %q with an error", payload, kid)
			}
		})
	}
	// The same forgeries with the header alg fixed to the key's own are
	// not what the test is about; make sure the genuine token passes.
	if _, kid, err := k.Verify(good, "at+jwt"); err != nil || kid != rsKID {
		t.Fatalf("genuine RS256 token: kid %q, %v", kid, err)
	}
}

// TestGenerateKey_RSA_PrivatePartSealed checks an RS256 key record: the
// public JWK holds n and e only, and no form of the private key appears in
// the row; the sealed part opens to the key under its own kid only.
func TestGenerateKey_RSA_PrivatePartSealed(t *testing.T) {
	sealer := newTestSealer(t, 1)
	now := time.Now()
	row, err := generateKey(sealer, AlgRS256, store.KeyNext, now, now)
	if err != nil {
		t.Fatal(err)
	}
	kk, err := parseKey(row, sealer, true)
	if err != nil {
		t.Fatal(err)
	}
	if kk.rsaPriv == nil || kk.rsaPriv.N.BitLen() != 2048 || kk.sigLen != 256 {
		t.Fatalf("parsed key: %+v", kk)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(kk.rsaPriv)
	secrets := [][]byte{pkcs8, x509.MarshalPKCS1PrivateKey(kk.rsaPriv), kk.rsaPriv.D.Bytes(),
		kk.rsaPriv.Primes[0].Bytes(), kk.rsaPriv.Primes[1].Bytes()}
	for _, s := range slices.Clone(secrets) {
		secrets = append(secrets, []byte(base64.RawURLEncoding.EncodeToString(s)), []byte(base64.StdEncoding.EncodeToString(s)))
	}
	stored, _ := json.Marshal(row) // what the store's JSON view shows
	for _, s := range secrets {
		for name, field := range map[string][]byte{"PrivateSealed": row.PrivateSealed, "PublicJWK": row.PublicJWK, "JSON": stored} {
			if bytes.Contains(field, s) {
				t.Fatalf("%s contains private key material %x…", name, s[:8])
			}
		}
	}
	var members map[string]any
	if err := json.Unmarshal(row.PublicJWK, &members); err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
		if _, ok := members[banned]; ok {
			t.Fatalf("public JWK has private member %q", banned)
		}
	}
	plain, err := sealer.Open(row.PrivateSealed, []byte(row.ID))
	if err != nil || !bytes.Equal(plain, pkcs8) {
		t.Fatalf("Open under the kid: %v", err)
	}
	if _, err := sealer.Open(row.PrivateSealed, []byte("another-kid")); !errors.Is(err, ErrOpen) {
		t.Fatalf("Open under another kid = %v, want ErrOpen", err)
	}
	if _, err := parseKey(row, newTestSealer(t, 2), true); !errors.Is(err, ErrOpen) {
		t.Fatalf("parse with another master secret = %v, want ErrOpen", err)
	}
}

func TestParseKey_RSA_Refuses(t *testing.T) {
	sealer := newTestSealer(t, 1)
	now := time.Now()
	rsRow, err := generateKey(sealer, AlgRS256, store.KeyActive, now, now)
	if err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallJWK, _ := json.Marshal(jose.JSONWebKey{Key: &small.PublicKey, KeyID: rsRow.ID, Algorithm: AlgRS256, Use: "sig"})
	esRow, _ := generateKey(sealer, AlgES256, store.KeyActive, now, now)
	other, _ := generateKey(sealer, AlgRS256, store.KeyActive, now, now)
	tests := []struct {
		name   string
		mod    func(r *store.SigningKey)
		naming string
	}{
		{"RSA key under alg ES256", func(r *store.SigningKey) {
			r.Alg = AlgES256
		}, "alg"},
		{"RSA JWK naming ES256", func(r *store.SigningKey) {
			r.PublicJWK = bytes.Replace(r.PublicJWK, []byte(`"RS256"`), []byte(`"ES256"`), 1)
			r.Alg = AlgES256
		}, "does not fit"},
		{"EC key under alg RS256", func(r *store.SigningKey) {
			*r = esRow
			r.Alg = AlgRS256
		}, "alg"},
		{"1024-bit RSA key", func(r *store.SigningKey) {
			r.PublicJWK = smallJWK
		}, "1024 bits"},
		{"private key of another RSA key", func(r *store.SigningKey) {
			r.PrivateSealed, _ = sealer.Seal(mustOpen(t, sealer, other), []byte(r.ID))
		}, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := rsRow
			tt.mod(&row)
			if _, err := parseKey(row, sealer, true); err == nil || !strings.Contains(err.Error(), tt.naming) {
				t.Fatalf("parseKey = %v, want an error about %s", err, tt.naming)
			}
		})
	}
}

func mustOpen(t *testing.T, s *Sealer, row store.SigningKey) []byte {
	t.Helper()
	plain, err := s.Open(row.PrivateSealed, []byte(row.ID))
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// byAlgState returns the kids of the stored keys by algorithm and state.
func byAlgState(t *testing.T, r store.Reader) map[string]map[string][]string {
	t.Helper()
	rows, err := r.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	for _, row := range rows {
		if out[row.Alg] == nil {
			out[row.Alg] = map[string][]string{}
		}
		out[row.Alg][row.State] = append(out[row.Alg][row.State], row.ID)
	}
	return out
}

// rowsOf returns the stored records of alg, by kid.
func rowsOf(t *testing.T, r store.Reader, alg string) map[string]store.SigningKey {
	t.Helper()
	rows, err := r.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.SigningKey{}
	for _, row := range rows {
		if row.Alg == alg {
			out[row.ID] = row
		}
	}
	return out
}

func sameRows(a, b map[string]store.SigningKey) bool {
	if len(a) != len(b) {
		return false
	}
	for id, x := range a {
		y, ok := b[id]
		if !ok || x.State != y.State || !x.ActivateAt.Equal(y.ActivateAt) || !x.CreatedAt.Equal(y.CreatedAt) ||
			!x.RetiredAt.Equal(y.RetiredAt) || !bytes.Equal(x.PublicJWK, y.PublicJWK) || !bytes.Equal(x.PrivateSealed, y.PrivateSealed) {
			return false
		}
	}
	return true
}

func TestNew_FirstStart_DefaultKeepsRS256Too(t *testing.T) {
	f := newFixture(t, Config{})
	k := f.keyring(t, 1)
	keys := byAlgState(t, f.st)
	es, rs := keys[AlgES256], keys[AlgRS256]
	if len(keys) != 2 || len(es[store.KeyActive]) != 1 || len(es[store.KeyNext]) != 1 ||
		len(rs[store.KeyActive]) != 1 || len(rs[store.KeyNext]) != 0 {
		t.Fatalf("keys = %v; want ES256 active and next, RS256 active (its next comes from Maintain)", keys)
	}
	if !slices.Equal(k.Algs(), []string{AlgES256, AlgRS256}) || k.ActiveKeyID() != es[store.KeyActive][0] ||
		activeKID(k, AlgRS256) != rs[store.KeyActive][0] {
		t.Fatalf("Algs %v, active %s, RS256 active %s", k.Algs(), k.ActiveKeyID(), activeKID(k, AlgRS256))
	}
	events := audit(t, f.st, "signing_key.create")
	if len(events) != 1 || events[0].ObjectID != es[store.KeyActive][0] ||
		!bytes.Contains(events[0].Details, []byte(rs[store.KeyActive][0])) || !bytes.Contains(events[0].Details, []byte(`"RS256"`)) {
		t.Fatalf("create audit = %+v", events)
	}
	if kids := jwksKids(t, k); len(kids) != 3 || kids[0] != es[store.KeyActive][0] || kids[1] != rs[store.KeyActive][0] {
		t.Fatalf("JWKS kids = %v; want the active keys first, primary first", kids)
	}
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(byAlgState(t, f.st)[AlgRS256][store.KeyNext]); n != 1 || len(jwksKids(t, k)) != 4 {
		t.Fatalf("after Maintain: %d RS256 next keys, JWKS %v", n, jwksKids(t, k))
	}
}

// TestNew_ExistingES256Store_GainsRS256 upgrades a store whose keys are all
// ES256 (as every store before RS256 was) and checks that the ES256 keys
// stay exactly as they were.
func TestNew_ExistingES256Store_GainsRS256(t *testing.T) {
	f := newFixture(t, Config{ExtraAlgs: single})
	old := f.keyring(t, 1)
	tok := mustSign(t, old, "at+jwt")
	esBefore := rowsOf(t, f.st, AlgES256)
	if len(esBefore) != 2 || len(rowsOf(t, f.st, AlgRS256)) != 0 {
		t.Fatalf("before: %v", byAlgState(t, f.st))
	}
	f.clock.Advance(time.Hour)

	f.cfg.ExtraAlgs = nil // the new default
	k := f.keyring(t, 1)
	rs := byAlgState(t, f.st)[AlgRS256]
	if len(rs[store.KeyActive]) != 1 || activeKID(k, AlgRS256) != rs[store.KeyActive][0] {
		t.Fatalf("RS256 keys after start = %v", rs)
	}
	if !sameRows(esBefore, rowsOf(t, f.st, AlgES256)) || k.ActiveKeyID() != old.ActiveKeyID() {
		t.Fatal("the ES256 keys changed on start")
	}
	if _, kid, err := k.Verify(tok, "at+jwt"); err != nil || kid != old.ActiveKeyID() {
		t.Fatalf("ES256 token from before: %q, %v", kid, err)
	}
	if _, err := k.SignWith(AlgRS256, "JWT", testClaims{Sub: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !sameRows(esBefore, rowsOf(t, f.st, AlgES256)) {
		t.Fatal("the ES256 keys changed in maintenance")
	}
	if n := len(byAlgState(t, f.st)[AlgRS256][store.KeyNext]); n != 1 {
		t.Fatalf("%d RS256 next keys after Maintain", n)
	}
	// A keyring that does not keep RS256 publishes the RS256 keys (and
	// verifies their tokens) without opening their private parts.
	if err := old.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(jwksKids(t, old)); n != 4 {
		t.Fatalf("ES256-only keyring publishes %d keys, want 4", n)
	}
	for kid := range rowsOf(t, f.st, AlgRS256) {
		if signingKeyOf(t, old, kid).canSign() {
			t.Fatalf("ES256-only keyring opened the private part of RS256 key %s", kid)
		}
	}
}

// TestMaintain_KeptAlgMissingKeys_CreatedAtOnce covers a running instance
// whose algorithm lost its keys (another instance, configured without it,
// retired them): maintenance makes a fresh active and next key and leaves
// the other algorithm alone.
func TestMaintain_KeptAlgMissingKeys_CreatedAtOnce(t *testing.T) {
	f := newFixture(t, Config{})
	k := f.keyring(t, 1)
	esBefore := rowsOf(t, f.st, AlgES256)
	err := f.st.Tx(t.Context(), func(tx store.Tx) error {
		for kid := range rowsOf(t, f.st, AlgRS256) {
			if err := tx.DeleteSigningKey(t.Context(), kid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.SignWith(AlgRS256, "JWT", nil); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("SignWith with no RS256 key = %v", err)
	}
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	rs := byAlgState(t, f.st)[AlgRS256]
	if len(rs[store.KeyActive]) != 1 || len(rs[store.KeyNext]) != 1 || activeKID(k, AlgRS256) != rs[store.KeyActive][0] {
		t.Fatalf("RS256 keys = %v", rs)
	}
	if !sameRows(esBefore, rowsOf(t, f.st, AlgES256)) {
		t.Fatal("the ES256 keys changed")
	}
	if ev := audit(t, f.st, "signing_key.rotate"); len(ev) != 1 || ev[0].ObjectID != rs[store.KeyActive][0] ||
		bytes.Contains(ev[0].Details, []byte(AlgES256)) {
		t.Fatalf("rotate audit = %+v", ev)
	}
}

func TestRotateAlg_RotatesThatAlgOnly(t *testing.T) {
	f := newFixture(t, Config{MaxTokenTTL: 2 * time.Hour})
	k := f.keyring(t, 1)
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultPrePublish)
	before := byAlgState(t, f.st)
	esBefore := rowsOf(t, f.st, AlgES256)
	rsTok, err := k.SignWith(AlgRS256, "JWT", testClaims{Sub: "u"})
	if err != nil {
		t.Fatal(err)
	}

	if err := k.RotateAlg(t.Context(), AlgRS256, store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	after := byAlgState(t, f.st)[AlgRS256]
	wasActive, wasNext := before[AlgRS256][store.KeyActive][0], before[AlgRS256][store.KeyNext][0]
	if activeKID(k, AlgRS256) != wasNext || len(after[store.KeyActive]) != 1 || after[store.KeyActive][0] != wasNext {
		t.Fatalf("RS256 active %s, want the former next key %s", activeKID(k, AlgRS256), wasNext)
	}
	if len(after[store.KeyRetired]) != 1 || after[store.KeyRetired][0] != wasActive ||
		len(after[store.KeyNext]) != 1 || after[store.KeyNext][0] == wasNext {
		t.Fatalf("RS256 keys after rotation = %v", after)
	}
	if !sameRows(esBefore, rowsOf(t, f.st, AlgES256)) || k.ActiveKeyID() != before[AlgES256][store.KeyActive][0] {
		t.Fatal("rotating RS256 changed the ES256 keys")
	}
	if _, kid, err := k.Verify(rsTok, "JWT"); err != nil || kid != wasActive {
		t.Fatalf("RS256 token of the retired key: %q, %v", kid, err)
	}
	newTok, _ := k.SignWith(AlgRS256, "JWT", testClaims{Sub: "u"})
	if _, kid, err := k.Verify(newTok, "JWT"); err != nil || kid != wasNext {
		t.Fatalf("RS256 token after rotation: %q, %v", kid, err)
	}
	ev := audit(t, f.st, "signing_key.rotate")
	if len(ev) != 1 || ev[0].Actor != "operator" || ev[0].ObjectID != wasNext {
		t.Fatalf("rotate audit = %+v", ev)
	}
	var details map[string]rotation
	if err := json.Unmarshal(ev[0].Details, &details); err != nil || len(details) != 1 ||
		details[AlgRS256].Active != wasNext || details[AlgRS256].Retired[0] != wasActive {
		t.Fatalf("rotate audit details = %s (%v)", ev[0].Details, err)
	}

	for _, alg := range []string{AlgEdDSA, "HS256", ""} {
		if err := k.RotateAlg(t.Context(), alg, store.AuditEvent{Actor: "operator"}); err == nil || !strings.Contains(err.Error(), `"`+alg+`"`) {
			t.Fatalf("RotateAlg(%q) = %v, want an error naming it", alg, err)
		}
	}
	if n := len(audit(t, f.st, "signing_key.rotate")); n != 1 {
		t.Fatalf("%d rotate events after refused rotations", n)
	}
}

func TestRotate_EveryAlg_OneAuditEvent(t *testing.T) {
	f := newFixture(t, Config{})
	k := f.keyring(t, 1)
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := byAlgState(t, f.st)
	if err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	after := byAlgState(t, f.st)
	for _, alg := range []string{AlgES256, AlgRS256} {
		if activeKID(k, alg) != before[alg][store.KeyNext][0] || !slices.Equal(after[alg][store.KeyRetired], before[alg][store.KeyActive]) {
			t.Fatalf("%s: active %s, keys %v; before %v", alg, activeKID(k, alg), after[alg], before[alg])
		}
	}
	ev := audit(t, f.st, "signing_key.rotate")
	if len(ev) != 1 || ev[0].ObjectID != k.ActiveKeyID() {
		t.Fatalf("rotate audit = %+v; want one event on the new ES256 key", ev)
	}
	var details map[string]rotation
	if err := json.Unmarshal(ev[0].Details, &details); err != nil || len(details) != 2 ||
		details[AlgES256].Active != activeKID(k, AlgES256) || details[AlgRS256].Active != activeKID(k, AlgRS256) {
		t.Fatalf("details = %s (%v)", ev[0].Details, err)
	}
}

// TestMaintain_EachAlgOnItsOwnSchedule starts RS256 a day after ES256 and
// checks that scheduled rotation follows each algorithm's own key age.
func TestMaintain_EachAlgOnItsOwnSchedule(t *testing.T) {
	f := newFixture(t, Config{RotateEvery: 48 * time.Hour, ExtraAlgs: single})
	f.keyring(t, 1)
	f.clock.Advance(24 * time.Hour)
	f.cfg.ExtraAlgs = nil
	k := f.keyring(t, 1)
	ctx := t.Context()
	if err := k.Maintain(ctx); err != nil { // RS256's next key
		t.Fatal(err)
	}
	rotated := func() []string {
		var out []string
		for _, e := range audit(t, f.st, "signing_key.rotate") {
			var d map[string]rotation
			if err := json.Unmarshal(e.Details, &d); err != nil {
				t.Fatal(err)
			}
			for alg := range d {
				out = append(out, alg)
			}
		}
		slices.Sort(out)
		return out
	}
	steps := []struct {
		advance time.Duration
		want    []string // algorithms rotated so far
	}{
		{23 * time.Hour, nil},                                    // ES256 47 h old
		{time.Hour, []string{AlgES256}},                          // ES256 48 h old, RS256 24 h
		{23 * time.Hour, []string{AlgES256}},                     // RS256 47 h old
		{time.Hour, []string{AlgES256, AlgRS256}},                // RS256 48 h old, ES256 24 h
		{24 * time.Hour, []string{AlgES256, AlgES256, AlgRS256}}, // ES256 again
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		esActive, rsActive := k.ActiveKeyID(), activeKID(k, AlgRS256)
		if err := k.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rotated(); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: rotated %v, want %v", i, got, s.want)
		}
		es, rs := byAlgState(t, f.st)[AlgES256], byAlgState(t, f.st)[AlgRS256]
		for alg, keys := range map[string]map[string][]string{AlgES256: es, AlgRS256: rs} {
			if len(keys[store.KeyActive]) != 1 || len(keys[store.KeyNext]) != 1 {
				t.Fatalf("step %d: %s keys %v", i, alg, keys)
			}
		}
		if (esActive != k.ActiveKeyID()) != (i == 1 || i == 4) || (rsActive != activeKID(k, AlgRS256)) != (i == 3) {
			t.Fatalf("step %d: active ES256 %s → %s, RS256 %s → %s", i, esActive, k.ActiveKeyID(), rsActive, activeKID(k, AlgRS256))
		}
	}
}

// TestMaintain_DroppedAlg_RetiredThenPruned removes RS256 from the kept
// algorithms: its keys retire, tokens it signed verify until MaxTokenTTL
// has passed, and then its keys are deleted.
func TestMaintain_DroppedAlg_RetiredThenPruned(t *testing.T) {
	f := newFixture(t, Config{MaxTokenTTL: 3 * time.Hour})
	k := f.keyring(t, 1)
	ctx := t.Context()
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	rsTok, err := k.SignWith(AlgRS256, "JWT", testClaims{Sub: "u"})
	if err != nil {
		t.Fatal(err)
	}
	rsKeys := byAlgState(t, f.st)[AlgRS256]
	esBefore := rowsOf(t, f.st, AlgES256)

	f.cfg.ExtraAlgs = single
	k2 := f.keyring(t, 1)
	if _, _, err := k2.Verify(rsTok, "JWT"); err != nil {
		t.Fatalf("RS256 token before maintenance: %v", err)
	}
	if _, err := k2.SignWith(AlgRS256, "JWT", nil); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("SignWith of a dropped alg = %v", err)
	}
	if err := k2.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	for _, r := range rowsOf(t, f.st, AlgRS256) {
		if r.State != store.KeyRetired || !r.RetiredAt.Equal(now) || !r.PublishUntil.Equal(now.Add(3*time.Hour)) {
			t.Fatalf("RS256 key after maintenance: %+v", r)
		}
	}
	if ev := audit(t, f.st, "signing_key.retire"); len(ev) != 2 ||
		!slices.Contains([]string{ev[0].ObjectID, ev[1].ObjectID}, rsKeys[store.KeyActive][0]) ||
		!slices.Contains([]string{ev[0].ObjectID, ev[1].ObjectID}, rsKeys[store.KeyNext][0]) {
		t.Fatalf("retire audit = %+v", ev)
	}
	if !sameRows(esBefore, rowsOf(t, f.st, AlgES256)) {
		t.Fatal("dropping RS256 changed the ES256 keys")
	}
	if !strings.Contains(f.logs.String(), "does not keep") {
		t.Fatalf("no warning about the retired algorithm:\n%s", f.logs)
	}
	f.clock.Advance(3*time.Hour - time.Second)
	if err := k2.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k2.Verify(rsTok, "JWT"); err != nil {
		t.Fatalf("RS256 token within MaxTokenTTL of the retirement: %v", err)
	}
	f.clock.Advance(time.Second)
	if err := k2.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rowsOf(t, f.st, AlgRS256)); n != 0 {
		t.Fatalf("%d RS256 keys left after MaxTokenTTL", n)
	}
	if _, _, err := k2.Verify(rsTok, "JWT"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("RS256 token after its key was deleted: %v", err)
	}
}

// TestKeyring_ConcurrentSignWithEveryAlgDuringRotation signs with each
// algorithm from several goroutines while the keys rotate.
func TestKeyring_ConcurrentSignWithEveryAlgDuringRotation(t *testing.T) {
	f := newFixture(t, Config{ExtraAlgs: []string{AlgRS256, AlgEdDSA}})
	k := f.keyring(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := make(chan error, 8)
	done := make(chan struct{})
	n := 0
	for _, alg := range k.Algs() {
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				tok, err := k.SignWith(alg, "JWT", testClaims{Sub: alg})
				if err == nil {
					_, _, err = k.Verify(tok, "JWT")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 3 {
		if err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for range n {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
