package agentcli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyshift/keyshift/tokensource"
)

// IntegrationsEnv names the environment variable that overrides the
// integrations file's path; ProfileEnv picks a profile.
const (
	IntegrationsEnv = "KEYSHIFT_INTEGRATIONS"
	ProfileEnv      = "KEYSHIFT_PROFILE"
)

// File is the integrations file: named environments of one integration
// (production, test, dev, stage...). It is not the admin CLI's profiles.json.
type File struct {
	// Default is the profile used when none is named.
	Default  string             `yaml:"default,omitempty"`
	Profiles map[string]Profile `yaml:"profiles"`
}

// Profile is how one environment's integration gets its token.
type Profile struct {
	// Issuer (discovery) or TokenURL; TokenURL wins when both are set.
	Issuer   string `yaml:"issuer,omitempty"`
	TokenURL string `yaml:"token_url,omitempty"`
	ClientID string `yaml:"client_id"`
	// The secret comes from exactly one of: a file (trimmed), an
	// environment variable, or inline (discouraged: the file then is a
	// secret itself).
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	ClientSecretEnv  string `yaml:"client_secret_env,omitempty"`
	ClientSecret     string `yaml:"client_secret,omitempty"`
	// PrivateKeyFile (PEM: PKCS #8, EC or RSA) and KeyID sign
	// private_key_jwt assertions instead of a secret.
	PrivateKeyFile string `yaml:"private_key_file,omitempty"`
	KeyID          string `yaml:"key_id,omitempty"`
	// AuthMethod: client_secret_basic (default), client_secret_post, or
	// private_key_jwt (implied by private_key_file).
	AuthMethod string   `yaml:"auth_method,omitempty"`
	Scopes     []string `yaml:"scopes,omitempty"`
	Audience   string   `yaml:"audience,omitempty"`
	// CacheFile shares the token between processes; default a file per
	// profile under the user's cache directory. "off" disables it.
	CacheFile string `yaml:"cache_file,omitempty"`

	// API is the base URL of the API the integration calls: the agent's
	// upstream, and the default probe of `credentials test` is its Probe.
	API string `yaml:"api,omitempty"`
	// Probe is a URL that must answer 2xx to a request with the token.
	Probe string `yaml:"probe,omitempty"`
	// LegacyHeader is the API key header the agent strips (default X-API-Key).
	LegacyHeader string `yaml:"legacy_header,omitempty"`
	// Listen and TokenFile are the agent's defaults.
	Listen    string `yaml:"listen,omitempty"`
	TokenFile string `yaml:"token_file,omitempty"`
}

// DefaultPath is $KEYSHIFT_INTEGRATIONS, else integrations.yaml in the
// user's config directory (~/.config/keyshift/integrations.yaml on Linux).
func DefaultPath() (string, error) {
	if p := os.Getenv(IntegrationsEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "keyshift", "integrations.yaml"), nil
}

// LoadFile reads an integrations file; a missing file is an empty one.
func LoadFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("read integrations file: %w", err)
	}
	f, err := ParseFile(b)
	if err != nil {
		return File{}, fmt.Errorf("integrations file %s: %w", path, err)
	}
	return f, nil
}

// ParseFile parses an integrations file's content. Unknown fields are an
// error, so a misspelt field is never silently ignored.
func ParseFile(b []byte) (File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("parse: %w", err)
	}
	for name := range f.Profiles {
		if name == "" || safeName(name) != name {
			return File{}, fmt.Errorf("profile name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	if f.Default != "" && f.Profiles != nil {
		if _, ok := f.Profiles[f.Default]; !ok {
			return File{}, fmt.Errorf("default profile %q is not defined", f.Default)
		}
	}
	return f, nil
}

// Pick returns the named profile; with no name, $KEYSHIFT_PROFILE, the
// file's default, or its only profile.
func (f File) Pick(name string) (string, Profile, error) {
	if name == "" {
		name = os.Getenv(ProfileEnv)
	}
	if name == "" {
		name = f.Default
	}
	if name == "" && len(f.Profiles) == 1 {
		for n := range f.Profiles {
			name = n
		}
	}
	if name == "" {
		return "", Profile{}, nil // flags alone may configure everything
	}
	p, ok := f.Profiles[name]
	if !ok {
		return "", Profile{}, fmt.Errorf("no profile %q in the integrations file (have: %s)", name, strings.Join(f.names(), ", "))
	}
	return name, p, nil
}

func (f File) names() []string {
	out := make([]string, 0, len(f.Profiles))
	for n := range f.Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// secretFunc reads the secret at each token request, so a rotated secret
// file or variable is picked up without a restart.
func (p Profile) secretFunc() (func(context.Context) (string, error), error) {
	n := 0
	for _, s := range []string{p.ClientSecretFile, p.ClientSecretEnv, p.ClientSecret} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("set exactly one of client_secret_file, client_secret_env or client_secret")
	}
	switch {
	case p.ClientSecretFile != "":
		path := p.ClientSecretFile
		return func(context.Context) (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("client_secret_file: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}, nil
	case p.ClientSecretEnv != "":
		name := p.ClientSecretEnv
		return func(context.Context) (string, error) {
			v := os.Getenv(name)
			if v == "" {
				return "", fmt.Errorf("environment variable %s (client_secret_env) is empty", name)
			}
			return v, nil
		}, nil
	default:
		secret := p.ClientSecret
		return func(context.Context) (string, error) { return secret, nil }, nil
	}
}

// secretSource describes where the secret comes from, never the secret.
func (p Profile) secretSource() string {
	switch {
	case p.ClientSecretFile != "":
		return "file " + p.ClientSecretFile
	case p.ClientSecretEnv != "":
		return "environment variable " + p.ClientSecretEnv
	case p.ClientSecret != "":
		return "inline in the integrations file"
	case p.PrivateKeyFile != "":
		return "private key " + p.PrivateKeyFile + " (private_key_jwt)"
	}
	return "none"
}

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
			cfg.CacheFile = filepath.Join(dir, "keyshift", "tokens", safeName(name)+"-"+safeName(p.ClientID)+".json")
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

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
