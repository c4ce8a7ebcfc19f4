package agentcli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyshift/keyshift/internal/profile"
	"github.com/keyshift/keyshift/tokensource"
)

// Profile is how an integration gets its token: a profile of the one
// profiles file (see package profile), with the token source methods the
// integration verbs need.
type Profile profile.Profile

// secretFunc reads the secret at each token request (see
// profile.Profile.SecretFunc).
func (p Profile) secretFunc() (func(context.Context) (string, error), error) {
	return profile.Profile(p).SecretFunc()
}

// secretSource describes where the secret comes from, never the secret.
func (p Profile) secretSource() string { return profile.Profile(p).SecretSource() }

// tokenConfig turns a profile into a token source configuration.
func (p Profile) tokenConfig(name string) (tokensource.Config, error) {
	if p.ClientID == "" {
		return tokensource.Config{}, errors.New("no client_id: set it in the profile or with --client-id")
	}
	if p.Issuer == "" && p.TokenURL == "" {
		return tokensource.Config{}, errors.New("no issuer or token_url: set one in the profile or with --issuer / --token-url")
	}
	cfg := tokensource.Config{Issuer: p.Issuer, TokenURL: p.TokenURL, ClientID: p.ClientID,
		AuthMethod: tokensource.AuthMethod(p.AuthMethod), Scopes: p.Scopes, Audience: p.Audience}
	if p.PrivateKeyFile != "" || p.AuthMethod == string(tokensource.AuthPrivateKeyJWT) {
		key, err := readPrivateKey(p.PrivateKeyFile)
		if err != nil {
			return tokensource.Config{}, err
		}
		cfg.AuthMethod, cfg.PrivateKey, cfg.KeyID = tokensource.AuthPrivateKeyJWT, key, p.KeyID
	} else {
		sf, err := p.secretFunc()
		if err != nil {
			return tokensource.Config{}, err
		}
		cfg.SecretFunc = sf
	}
	switch p.CacheFile {
	case "off":
	case "":
		dir, err := os.UserCacheDir()
		if err == nil {
			if name == "" {
				name = "default"
			}
			cfg.CacheFile = filepath.Join(dir, "keyshift", "tokens", profile.SafeName(name)+"-"+profile.SafeName(p.ClientID)+".json")
		}
	default:
		cfg.CacheFile = p.CacheFile
	}
	return cfg, nil
}

// readPrivateKey loads a PEM private key for private_key_jwt.
func readPrivateKey(path string) (crypto.Signer, error) {
	if path == "" {
		return nil, errors.New("private_key_jwt needs private_key_file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("private_key_file %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("private_key_file %s: PEM type %q is not a private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private_key_file %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private_key_file %s: unsupported key type %T", path, key)
	}
	return signer, nil
}
