package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/store"
)

// Supported JWS algorithms.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256, the default ID token
	// algorithm of OpenID Connect.
	AlgRS256 = "RS256"
)

// supportedAlgs lists the algorithms in the order error messages name them.
var supportedAlgs = []string{AlgES256, AlgEdDSA, AlgRS256}

// RSA key sizes: keyshift generates rsaBits-bit keys and, reading a store,
// accepts sizes up to rsaMaxBits, which bounds the work of a verification.
const (
	rsaBits    = 2048
	rsaMaxBits = 4096
)

// KeyUse is the store.SigningKey.Use of the keys this package manages.
const KeyUse = "access_token"

// sigLen is the JWS signature length of ES256 and EdDSA: r||s for ES256
// (RFC 7518 §3.4) and the Ed25519 signature for EdDSA (RFC 8037). An RS256
// signature is as long as the key's modulus.
const sigLen = 64

// maxCachedHeaders bounds the per-key header cache; callers pass a handful of
// constant typ values, so the bound only guards against misuse.
const maxCachedHeaders = 16

// key is the parsed material of a signing key. Apart from its header cache
// it is immutable, so snapshots share it and concurrent signers and
// verifiers use it without locks. Its state lives in the snapshot.
type key struct {
	kid    string
	alg    string
	sigLen int // bytes of a signature
	ecPub  *ecdsa.PublicKey
	edPub  ed25519.PublicKey
	rsaPub *rsa.PublicKey
	// One private key is set for keys that may sign (next and active of a
	// kept algorithm).
	ecPriv  *ecdsa.PrivateKey
	edPriv  ed25519.PrivateKey
	rsaPriv *rsa.PrivateKey
	jwk     jose.JSONWebKey

	headers  sync.Map // typ → base64url(header) + "."
	nHeaders atomic.Int32
}

func validAlg(alg string) bool { return alg == AlgES256 || alg == AlgEdDSA || alg == AlgRS256 }

// newKID returns a random, URL-safe key id (96 bits).
func newKID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate key id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// generateKey makes a new key record whose private part is sealed under
// the key id.
func generateKey(sealer *Sealer, alg, state string, now, activateAt time.Time) (store.SigningKey, error) {
	kid, err := newKID()
	if err != nil {
		return store.SigningKey{}, err
	}
	var priv crypto.Signer
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgRS256:
		// Tens to hundreds of milliseconds: only ever at rotation time.
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return store.SigningKey{}, fmt.Errorf("generate signing key: unsupported alg %q", alg)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode %s key: %w", alg, err)
	}
	sealed, err := sealer.Seal(der, []byte(kid))
	clear(der)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("seal %s key: %w", alg, err)
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode public JWK: %w", err)
	}
	return store.SigningKey{
		ID:            kid,
		Alg:           alg,
		Use:           KeyUse,
		State:         state,
		PublicJWK:     pub,
		PrivateSealed: sealed,
		CreatedAt:     now,
		ActivateAt:    activateAt,
	}, nil
}

// parseKey builds a key from its record. The private part is opened only
// when withPrivate is set: retired keys never sign again.
func parseKey(row store.SigningKey, sealer *Sealer, withPrivate bool) (*key, error) {
	if !validAlg(row.Alg) {
		return nil, fmt.Errorf("signing key %s: unsupported alg %q", row.ID, row.Alg)
	}
	k := &key{kid: row.ID, alg: row.Alg, sigLen: sigLen}
	if err := k.jwk.UnmarshalJSON(row.PublicJWK); err != nil {
		return nil, fmt.Errorf("signing key %s: public JWK: %w", row.ID, err)
	}
	if k.jwk.KeyID != row.ID || k.jwk.Algorithm != row.Alg {
		return nil, fmt.Errorf("signing key %s: public JWK names kid %q alg %q", row.ID, k.jwk.KeyID, k.jwk.Algorithm)
	}
	switch pub := k.jwk.Key.(type) {
	case *ecdsa.PublicKey:
		if row.Alg != AlgES256 || pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("signing key %s: public key does not fit alg %s", row.ID, row.Alg)
		}
		k.ecPub = pub
	case ed25519.PublicKey:
		if row.Alg != AlgEdDSA {
			return nil, fmt.Errorf("signing key %s: public key does not fit alg %s", row.ID, row.Alg)
		}
		k.edPub = pub
	case *rsa.PublicKey:
		if row.Alg != AlgRS256 {
			return nil, fmt.Errorf("signing key %s: public key does not fit alg %s", row.ID, row.Alg)
		}
		if bits := pub.N.BitLen(); bits < rsaBits || bits > rsaMaxBits {
			return nil, fmt.Errorf("signing key %s: RSA key has %d bits, want %d to %d", row.ID, bits, rsaBits, rsaMaxBits)
		}
		k.rsaPub, k.sigLen = pub, pub.Size()
	default:
		return nil, fmt.Errorf("signing key %s: unsupported public key type %T", row.ID, pub)
	}
	if withPrivate {
		if err := k.openPrivate(row, sealer); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *key) openPrivate(row store.SigningKey, sealer *Sealer) error {
	der, err := sealer.Open(row.PrivateSealed, []byte(row.ID))
	if err != nil {
		return fmt.Errorf("signing key %s: %w", row.ID, err)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("signing key %s: private key: %w", row.ID, err)
	}
	switch priv := priv.(type) {
	case *ecdsa.PrivateKey:
		if k.ecPub == nil || !k.ecPub.Equal(priv.Public()) {
			return fmt.Errorf("signing key %s: private key does not match its public JWK", row.ID)
		}
		k.ecPriv = priv
	case ed25519.PrivateKey:
		if k.edPub == nil || !k.edPub.Equal(priv.Public()) {
			return fmt.Errorf("signing key %s: private key does not match its public JWK", row.ID)
		}
		k.edPriv = priv
	case *rsa.PrivateKey:
		if k.rsaPub == nil || !k.rsaPub.Equal(priv.Public()) {
			return fmt.Errorf("signing key %s: private key does not match its public JWK", row.ID)
		}
		k.rsaPriv = priv
	default:
		return fmt.Errorf("signing key %s: unsupported private key type %T", row.ID, priv)
	}
	return nil
}

func (k *key) canSign() bool { return k.ecPriv != nil || k.edPriv != nil || k.rsaPriv != nil }

// header returns the encoded protected header for typ, followed by ".".
func (k *key) header(typ string) string {
	if h, ok := k.headers.Load(typ); ok {
		return h.(string)
	}
	raw, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{k.alg, k.kid, typ}) // cannot fail: three strings
	h := base64.RawURLEncoding.EncodeToString(raw) + "."
	if k.nHeaders.Load() < maxCachedHeaders {
		if _, loaded := k.headers.LoadOrStore(typ, h); !loaded {
			k.nHeaders.Add(1)
		}
	}
	return h
}
