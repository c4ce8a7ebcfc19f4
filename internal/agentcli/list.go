package agentcli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/profile"
)

// newProfilesCmd lists the profiles file's profiles. Secrets are shown
// only with --show-secrets.
func newProfilesCmd() *cobra.Command {
	var (
		config      string
		showSecrets bool
	)
	cmd := &cobra.Command{
		Use:   "profiles [--config FILE] [--show-secrets]",
		Short: "List the profiles and where their secrets come from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := profile.Open(config, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if len(f.Profiles) == 0 {
				return fmt.Errorf("no profiles in %s: see docs/integration-in-10-minutes.md", f.Path)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROFILE\tSERVER\tCLIENT\tSECRET\tSCOPES")
			for _, name := range f.Names() {
				p := Profile(f.Profiles[name])
				server := p.TokenURL
				if server == "" {
					server = p.Issuer
				}
				if name == f.Default {
					name += " (default)"
				}
				secret := p.secretSource()
				if showSecrets {
					secret = revealSecret(cmd.Context(), p)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, server, p.ClientID, secret, strings.Join(p.Scopes, " "))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&config, "config", "", configUsage)
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print the client secrets themselves")
	return cmd
}

func revealSecret(ctx context.Context, p Profile) string {
	if p.PrivateKeyFile != "" {
		return p.secretSource()
	}
	f, err := p.secretFunc()
	if err != nil {
		return "error: " + err.Error()
	}
	s, err := f(ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}
