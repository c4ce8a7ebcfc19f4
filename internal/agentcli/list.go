package agentcli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// newProfilesCmd lists the integrations file's profiles. Secrets are shown
// only with --show-secrets.
func newProfilesCmd() *cobra.Command {
	var (
		config      string
		showSecrets bool
	)
	cmd := &cobra.Command{
		Use:   "profiles [--config FILE] [--show-secrets]",
		Short: "List the integration profiles (environments) and where their secrets come from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := config
			if path == "" {
				var err error
				if path, err = DefaultPath(); err != nil {
					return err
				}
			}
			f, err := LoadFile(path)
			if err != nil {
				return err
			}
			if len(f.Profiles) == 0 {
				return fmt.Errorf("no profiles in %s: see docs/integration-in-10-minutes.md", path)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROFILE\tSERVER\tCLIENT\tSECRET\tSCOPES")
			for _, name := range f.names() {
				p := f.Profiles[name]
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
	cmd.Flags().StringVar(&config, "config", "", "integrations file (default $"+IntegrationsEnv+" or ~/.config/keyshift/integrations.yaml)")
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
