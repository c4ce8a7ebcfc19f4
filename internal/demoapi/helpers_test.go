package demoapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func signedToken(t *testing.T, scope string) (*jose.JSONWebKeySet, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body, _ := json.Marshal(map[string]any{"iss": "https://auth.example.com", "aud": "https://auth.example.com",
		"sub": "ksc_1", "client_id": "ksc_1", "tenant": "acme", "jti": "j", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "scope": scope})
	obj, err := sg.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k", Algorithm: "ES256"}}}, tok
}
