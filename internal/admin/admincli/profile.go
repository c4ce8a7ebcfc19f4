package admincli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/profile"
)

// Environment variables the admin verbs read besides the profile package's
// (KEYSHIFT_PROFILES, KEYSHIFT_PROFILE): each overrides its field of the
// selected profile, so a CI job needs no file.
const (
	EnvURL          = "KEYSHIFT_URL"           // overrides the profile's issuer
	EnvClientID     = "KEYSHIFT_CLIENT_ID"     // overrides the profile's client_id
	EnvClientSecret = "KEYSHIFT_CLIENT_SECRET" // overrides the profile's client secret
)

// credentials are what the admin API client needs from a profile.
type credentials struct {
	url, clientID, secret string
	scopes                []string
	authInBody            bool
}

// resolveProfile returns the credentials of the named profile (or of the
// one profile.File.Select chooses) with the environment overrides.
func resolveProfile(ctx context.Context, name string, notes io.Writer) (credentials, error) {
	f, err := profile.Open("", notes)
	if err != nil {
		return credentials{}, err
	}
	name = f.Select(name)
	p, found := f.Profiles[name]
	c := credentials{url: p.Issuer, clientID: p.ClientID, scopes: p.Scopes,
		authInBody: p.AuthMethod == "client_secret_post"}
	if v := os.Getenv(EnvClientSecret); v != "" {
		c.secret = v
	} else if p.ClientSecretFile != "" || p.ClientSecretEnv != "" || p.ClientSecret != "" {
		read, err := p.SecretFunc()
		if err == nil {
			c.secret, err = read(ctx)
		}
		if err != nil {
			return credentials{}, fmt.Errorf("profile %q in %s: %w", name, f.Path, err)
		}
	}
	for env, dst := range map[string]*string{EnvURL: &c.url, EnvClientID: &c.clientID} {
		if v := os.Getenv(env); v != "" {
			*dst = v
		}
	}
	if c.url != "" && c.clientID != "" && c.secret != "" {
		return c, nil
	}
	switch {
	case !found && name == "":
		have := strings.Join(f.Names(), ", ")
		if have == "" {
			have = "none"
		}
		return credentials{}, fmt.Errorf("no profile chosen in %s (profiles: %s); pick one with --profile or %s, or create one with: keyshift profile set default --url URL --client-id ID --client-secret-stdin",
			f.Path, have, profile.EnvName)
	case !found:
		return credentials{}, fmt.Errorf("%w; create it with: keyshift profile set %s --url URL --client-id ID --client-secret-stdin", f.NotFound(name), name)
	case p.PrivateKeyFile != "" && c.secret == "":
		return credentials{}, fmt.Errorf("profile %q in %s signs with private_key_jwt; the admin verbs need a client secret", name, f.Path)
	}
	return credentials{}, fmt.Errorf("profile %q in %s lacks issuer, client_id or a client secret", name, f.Path)
}

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Manage the profiles (client credentials) every verb uses"}
	cmd.AddCommand(newProfileSetCmd(), newProfileListCmd(), newProfileDeleteCmd())
	return cmd
}

func newProfileSetCmd() *cobra.Command {
	var (
		url, clientID, secretFlag, secretFile string
		secretStdin                           bool
		scopes                                []string
	)
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Create a profile or set its server, client and secret (stored with mode 0600)",
		Long: "Create a profile, or set an existing one's issuer, client and secret (its other fields are kept).\n" +
			"The profile serves every verb: the admin verbs when the client holds keyshift:admin or\n" +
			"keyshift:tenant-admin, `keyshift token` and `keyshift agent` for any client.\n" +
			"Prefer --client-secret-file or --client-secret-stdin: a secret given as a flag is\n" +
			"visible to other users in the process list.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !profile.ValidName(name) {
				return fmt.Errorf("profile name %q: use letters, digits, '-', '_' and '.'", name)
			}
			secret, err := readSecret(cmd, secretFlag, secretFile, secretStdin)
			if err != nil {
				return err
			}
			url = strings.TrimRight(url, "/")
			if url == "" || clientID == "" {
				return errors.New("--url and --client-id are required")
			}
			f, err := profile.Open("", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			p := f.Profiles[name]
			// The secret given replaces every other way the profile had to
			// authenticate, and discovery at the issuer replaces a token URL.
			p.Issuer, p.TokenURL, p.ClientID = url, "", clientID
			p.ClientSecret, p.ClientSecretFile, p.ClientSecretEnv = secret, "", ""
			p.PrivateKeyFile, p.KeyID = "", ""
			if p.AuthMethod == "private_key_jwt" {
				p.AuthMethod = ""
			}
			if len(scopes) > 0 {
				p.Scopes = scopes
			}
			f.Profiles[name] = p
			if err := profile.Save(f); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "profile %q saved in %s\n", name, f.Path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "keyshift base URL (the issuer), e.g. https://auth.example.com")
	f.StringVar(&clientID, "client-id", "", "client id (of a client with keyshift:admin or keyshift:tenant-admin for the admin verbs)")
	f.StringArrayVar(&scopes, "scope", nil, "scope to request (repeatable; default the client's)")
	f.StringVar(&secretFlag, "client-secret", "", "client secret (visible in the process list; prefer the two flags below)")
	f.StringVar(&secretFile, "client-secret-file", "", "read the client secret from this file")
	f.BoolVar(&secretStdin, "client-secret-stdin", false, "read the client secret from standard input")
	cmd.MarkFlagsMutuallyExclusive("client-secret", "client-secret-file", "client-secret-stdin")
	return cmd
}

// readSecret takes the secret from exactly one of its three sources.
func readSecret(cmd *cobra.Command, flagValue, file string, stdin bool) (string, error) {
	var s string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read client secret: %w", err)
		}
		s = string(b)
	case stdin:
		line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read client secret from stdin: %w", err)
		}
		s = line
	default:
		s = flagValue
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("a client secret is required: --client-secret-stdin, --client-secret-file or --client-secret")
	}
	return s, nil
}

func newProfileListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List profiles (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := profile.Open("", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			names := ps.Names()
			server := func(n string) string {
				if p := ps.Profiles[n]; p.Issuer != "" {
					return p.Issuer
				}
				return ps.Profiles[n].TokenURL
			}
			if outputFormat(cmd) == "json" {
				type row struct {
					Name     string `json:"name"`
					URL      string `json:"url"`
					ClientID string `json:"client_id"`
				}
				rows := []row{}
				for _, n := range names {
					rows = append(rows, row{n, server(n), ps.Profiles[n].ClientID})
				}
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tURL\tCLIENT ID")
			for _, n := range names {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", n, server(n), ps.Profiles[n].ClientID)
			}
			return tw.Flush()
		},
	}
}

func newProfileDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := profile.Open("", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if _, ok := ps.Profiles[args[0]]; !ok {
				return ps.NotFound(args[0])
			}
			delete(ps.Profiles, args[0])
			if ps.Default == args[0] {
				ps.Default = ""
			}
			return profile.Save(ps)
		},
	}
}
