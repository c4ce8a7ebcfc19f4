package agentcli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/credcheck"
)

func newCredentialsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "credentials", Short: "Check an integration's OAuth client credentials"}
	var (
		pf    profileFlags
		probe string
	)
	test := &cobra.Command{
		Use:   "test [--profile P] [--probe URL]",
		Short: "Request a token, inspect it and call a probe URL with it; print a checklist with a fix per failure",
		Long: `Do what admins used to do by hand with an HTTP client: resolve discovery, request
a token, decode it (tenant, scopes granted vs requested, expiry, signing key in
the JWKS), call a probe URL with it, and print a checklist with a one-line fix
for each failure. The exit code is 0 only when every check passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, p, err := pf.resolve()
			if err != nil {
				return err
			}
			if probe != "" {
				p.Probe = probe
			}
			p.CacheFile = "off" // test the credentials, not the cache
			checks := runChecks(cmd.Context(), name, p, pf.verbose, cmd.ErrOrStderr(), nil)
			failed := printChecks(cmd.OutOrStdout(), checks)
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed", failed, len(checks))
			}
			return nil
		},
	}
	pf.register(test)
	test.Flags().StringVar(&probe, "probe", "", "URL that must answer 2xx to a GET with the token (default the profile's probe)")
	cmd.AddCommand(test, newProfilesCmd())
	return cmd
}

func printChecks(w io.Writer, checks []credcheck.Result) (failed int) {
	for _, c := range checks {
		mark := map[string]string{"ok": "[ ok ]", "fail": "[FAIL]", "skip": "[skip]"}[c.Status]
		fmt.Fprintf(w, "%s %-12s %s\n", mark, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "       %-12s fix: %s\n", "", c.Fix)
		}
		if c.Status == "fail" {
			failed++
		}
	}
	if failed == 0 {
		fmt.Fprintln(w, "All checks passed.")
	}
	return failed
}

// runChecks loads the profile's token configuration and runs the
// checklist (see package credcheck) with it.
// hc makes every request (nil: the defaults).
func runChecks(ctx context.Context, name string, p Profile, verbose bool, stderr io.Writer, hc *http.Client) []credcheck.Result {
	cfg, err := p.tokenConfig(name)
	if err == nil && cfg.SecretFunc != nil {
		_, err = cfg.SecretFunc(ctx)
	}
	if err != nil {
		return []credcheck.Result{credcheck.Fail("profile", err.Error(), "complete the profile in the integrations file, or pass --client-id, --issuer/--token-url and --client-secret-env")}
	}
	out := []credcheck.Result{{Name: "profile", Status: "ok", Detail: fmt.Sprintf("profile %q: client %s, secret from %s, scopes %q", orDefault(name), p.ClientID, p.secretSource(), strings.Join(p.Scopes, " "))}}
	cfg.Logger = logger(stderr, verbose)
	return append(out, credcheck.Run(ctx, credcheck.Target{Config: cfg, Probe: p.Probe}, hc)...)
}

func orDefault(s string) string {
	if s == "" {
		return "(flags only)"
	}
	return s
}
