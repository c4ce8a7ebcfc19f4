// Package profile is keyshift's one profiles file: named sets of client
// credentials (which server, which client, where its secret is, which
// scopes) that every CLI verb reads — the admin verbs, `keyshift token`,
// `keyshift agent` and `keyshift credentials`. An admin profile is simply a
// profile whose client holds keyshift:admin or keyshift:tenant-admin.
//
// The file is YAML at $KEYSHIFT_PROFILES, else profiles.yaml in the user's
// configuration directory (~/.config/keyshift/profiles.yaml on Linux), and
// $KEYSHIFT_PROFILE names the profile for every verb. On first use the two
// files of earlier releases (the admin CLI's profiles.json and the
// integrations' integrations.yaml) are merged into it; see Migrate.
package profile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvName names the environment variable that picks a profile when no
// --profile flag does, for every verb.
const EnvName = "KEYSHIFT_PROFILE"

// File is the profiles file.
type File struct {
	// Path is where the file was read from (or will be written to); it is
	// named in every error about the file.
	Path string `yaml:"-"`
	// Default is the profile used when none is named.
	Default  string             `yaml:"default,omitempty"`
	Profiles map[string]Profile `yaml:"profiles"`
}

// Profile is one client's credentials and the defaults of the verbs that
// use them.
type Profile struct {
	// Issuer is keyshift's base URL: discovery for integrations, the admin
	// API's base for the admin verbs. TokenURL, when set, is used for the
	// token request instead of discovery.
	Issuer   string `yaml:"issuer,omitempty"`
	TokenURL string `yaml:"token_url,omitempty"`
	ClientID string `yaml:"client_id"`
	// The secret comes from exactly one of: a file (trimmed), an
	// environment variable, or inline (the file then is a secret itself and
	// must be mode 0600).
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

// Parse parses a profiles file's content. Unknown fields are an error, so a
// misspelt field is never silently ignored.
func Parse(b []byte) (File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("parse: %w", err)
	}
	for name := range f.Profiles {
		if !ValidName(name) {
			return File{}, fmt.Errorf("profile name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	if f.Default != "" {
		if _, ok := f.Profiles[f.Default]; !ok {
			return File{}, fmt.Errorf("default profile %q is not defined", f.Default)
		}
	}
	if f.Profiles == nil {
		f.Profiles = map[string]Profile{}
	}
	return f, nil
}

// Encode returns the file's content as Parse reads it.
func (f File) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode profiles: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode profiles: %w", err)
	}
	return buf.Bytes(), nil
}

// Select returns the name of the profile to use: name when given, else
// $KEYSHIFT_PROFILE, the file's default, a profile named "default", or the
// file's only profile; "" when none applies (flags alone may configure
// everything).
func (f File) Select(name string) string {
	if name != "" {
		return name
	}
	if v := os.Getenv(EnvName); v != "" {
		return v
	}
	if f.Default != "" {
		return f.Default
	}
	if _, ok := f.Profiles["default"]; ok {
		return "default"
	}
	if len(f.Profiles) == 1 {
		for n := range f.Profiles {
			return n
		}
	}
	return ""
}

// Pick returns the profile Select chooses. A profile named but absent is an
// error that names the file and the profiles it has; no profile at all is
// the empty profile under the name "".
func (f File) Pick(name string) (string, Profile, error) {
	name = f.Select(name)
	if name == "" {
		return "", Profile{}, nil
	}
	p, ok := f.Profiles[name]
	if !ok {
		return "", Profile{}, f.NotFound(name)
	}
	return name, p, nil
}

// NotFound is the error for a profile name the file lacks.
func (f File) NotFound(name string) error {
	have := "none"
	if names := f.Names(); len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	return fmt.Errorf("profile %q not found in %s (profiles: %s)", name, f.Path, have)
}

// Names returns the profiles' names, sorted.
func (f File) Names() []string {
	out := make([]string, 0, len(f.Profiles))
	for n := range f.Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// holdsSecret tells whether a profile keeps its secret inline, which makes
// the file a secret that only its owner may read.
func (f File) holdsSecret() bool {
	for _, p := range f.Profiles {
		if p.ClientSecret != "" {
			return true
		}
	}
	return false
}

// ValidName tells whether s may name a profile: it also names the
// profile's token cache file, so only letters, digits, '-', '_' and '.'.
func ValidName(s string) bool { return s != "" && SafeName(s) == s }

// SafeName maps s to a string usable in a file name.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// SecretFunc returns a function that reads the client secret from the
// profile's one source. It reads at each call, so a rotated secret file or
// variable is picked up without a restart.
func (p Profile) SecretFunc() (func(context.Context) (string, error), error) {
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

// SecretSource describes where the secret comes from, never the secret.
func (p Profile) SecretSource() string {
	switch {
	case p.ClientSecretFile != "":
		return "file " + p.ClientSecretFile
	case p.ClientSecretEnv != "":
		return "environment variable " + p.ClientSecretEnv
	case p.ClientSecret != "":
		return "inline in the profiles file"
	case p.PrivateKeyFile != "":
		return "private key " + p.PrivateKeyFile + " (private_key_jwt)"
	}
	return "none"
}
