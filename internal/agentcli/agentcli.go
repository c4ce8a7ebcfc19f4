// Package agentcli holds the integration-side commands of the keyshift
// binary: `keyshift token`, `keyshift credentials test` and `keyshift agent`,
// configured by named profiles of the one profiles file that the admin
// verbs read too (package profile: ~/.config/keyshift/profiles.yaml, or
// --config, or $KEYSHIFT_PROFILES; $KEYSHIFT_PROFILE picks the profile).
package agentcli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/profile"
	"github.com/keyshift/keyshift/tokensource"
)

// AddCommands adds token, credentials and agent to root.
func AddCommands(root *cobra.Command) {
	root.AddCommand(newTokenCmd(), newCredentialsCmd(), newAgentCmd())
}

// profileFlags are the flags every integration command takes: which profile
// of which file, and overrides for each field so that no file is needed.
type profileFlags struct {
	config, profile             string
	issuer, tokenURL, clientID  string
	secretEnv, secretFile, auth string
	scopes                      []string
	noCache                     bool
	verbose                     bool
	// notes receives the one line a migration of the old profile files
	// prints: the command's stderr.
	notes func() io.Writer
}

func (f *profileFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.notes = cmd.ErrOrStderr
	fl.StringVar(&f.config, "config", "", configUsage)
	fl.StringVarP(&f.profile, "profile", "p", "", profileUsage)
	fl.StringVar(&f.issuer, "issuer", "", "issuer URL (discovery); overrides the profile")
	fl.StringVar(&f.tokenURL, "token-url", "", "token endpoint URL; overrides the profile")
	fl.StringVar(&f.clientID, "client-id", "", "client id; overrides the profile")
	fl.StringVar(&f.secretEnv, "client-secret-env", "", "environment variable holding the client secret; overrides the profile")
	fl.StringVar(&f.secretFile, "client-secret-file", "", "file holding the client secret; overrides the profile")
	fl.StringVar(&f.auth, "auth-method", "", "client_secret_basic (default) or client_secret_post")
	fl.StringArrayVar(&f.scopes, "scope", nil, "scope to request (repeatable); overrides the profile's scopes")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not read or write the shared token cache file")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log token events to stderr")
}

// Help of the flags that choose a profile, shared by every integration verb.
const (
	configUsage  = "profiles file (default $" + profile.EnvFile + " or ~/.config/keyshift/profiles.yaml)"
	profileUsage = "profile in the profiles file (default $" + profile.EnvName + ", the file's default, a profile named default, or its only profile)"
)

// resolve loads the profile and applies the flag overrides.
func (f *profileFlags) resolve() (string, Profile, error) {
	file, err := profile.Open(f.config, f.notes())
	if err != nil {
		return "", Profile{}, err
	}
	name, pp, err := file.Pick(f.profile)
	if err != nil {
		return "", Profile{}, err
	}
	p := Profile(pp)
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&p.Issuer, f.issuer)
	set(&p.TokenURL, f.tokenURL)
	set(&p.ClientID, f.clientID)
	set(&p.AuthMethod, f.auth)
	if f.secretEnv != "" || f.secretFile != "" {
		p.ClientSecret, p.ClientSecretEnv, p.ClientSecretFile = "", f.secretEnv, f.secretFile
	}
	if f.tokenURL != "" && f.issuer == "" {
		p.Issuer = "" // a token URL given on the command line needs no discovery
	}
	if len(f.scopes) > 0 {
		p.Scopes = f.scopes
	}
	if f.noCache {
		p.CacheFile = "off"
	}
	return name, p, nil
}

// source builds the token source for a resolved profile.
func (f *profileFlags) source(name string, p Profile, stderr io.Writer) (*tokensource.Source, error) {
	cfg, err := p.tokenConfig(name)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", name, err)
	}
	cfg.Logger = logger(stderr, f.verbose)
	return tokensource.New(cfg)
}

func logger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newTokenCmd() *cobra.Command {
	var (
		pf             profileFlags
		header, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "token [--profile P] [--header | --json]",
		Short: "Print a current access token for an integration (from the shared cache while it is fresh)",
		Long: `Print a current access token for the profile's client: from the shared cache
file while it is fresh, else a new one from the token endpoint.

  curl -H "$(keyshift token --profile production --header)" https://api.example.com/api/invoices`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if header && asJSON {
				return fmt.Errorf("--header and --json exclude each other")
			}
			name, p, err := pf.resolve()
			if err != nil {
				return err
			}
			src, err := pf.source(name, p, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			tok, err := src.Current(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case header:
				_, err = fmt.Fprintf(out, "Authorization: Bearer %s\n", tok.AccessToken)
			case asJSON:
				err = writeTokenJSON(out, tok)
			default:
				_, err = fmt.Fprintln(out, tok.AccessToken)
			}
			return err
		},
	}
	pf.register(cmd)
	cmd.Flags().BoolVar(&header, "header", false, "print an HTTP header line: Authorization: Bearer …")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: token, expiry, scopes")
	return cmd
}

func writeTokenJSON(w io.Writer, t *tokensource.Token) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		AccessToken string    `json:"access_token"`
		TokenType   string    `json:"token_type"`
		ExpiresAt   time.Time `json:"expires_at"`
		ExpiresIn   int64     `json:"expires_in"`
		RefreshAt   time.Time `json:"refresh_at"`
		Scopes      []string  `json:"scopes"`
		FromCache   bool      `json:"from_cache"`
	}{t.AccessToken, t.TokenType, t.Expiry.UTC(), int64(time.Until(t.Expiry).Seconds()), t.RefreshAt.UTC(), t.Scopes, t.FromCache})
}
