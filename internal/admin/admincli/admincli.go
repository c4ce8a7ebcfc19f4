// Package admincli holds keyshift's admin verbs (profile, tenants, scopes,
// clients, signing-keys, audit) as cobra commands. They call the admin API
// through adminclient.Client with the credentials of a profile (package profile:
// the same file and KEYSHIFT_PROFILE as the integration verbs), so the CLI goes
// through the same authorization and audit trail as any other caller.
package admincli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin/adminclient"
	"github.com/keyshift/keyshift/internal/profile"
)

// AddCommands adds the admin verbs to root, and the global --profile and
// -o/--output flags unless root already has them.
func AddCommands(root *cobra.Command) {
	pf := root.PersistentFlags()
	if pf.Lookup("profile") == nil {
		pf.String("profile", "", "profile in the profiles file (default $"+profile.EnvName+", the file's default, a profile named default, or its only profile)")
	}
	if pf.Lookup("output") == nil {
		pf.StringP("output", "o", "table", "output format: table or json")
	}
	root.AddCommand(newProfileCmd(), newTenantsCmd(), newScopesCmd(), newClientsCmd(),
		newSigningKeysCmd(), newAuditCmd(), newKeysCmd(), newTimelineCmd(), newMigrationCmd(), newUsersCmd(), newTrafficCmd())
}

// outputFormat returns "json" or "table".
func outputFormat(cmd *cobra.Command) string {
	if o, err := cmd.Flags().GetString("output"); err == nil && o == "json" {
		return "json"
	}
	return "table"
}

// checkOutput refuses an unknown -o value before any request is sent.
func checkOutput(cmd *cobra.Command) error {
	o, err := cmd.Flags().GetString("output")
	if err != nil || o == "table" || o == "json" {
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table or json", o)
}

// apiClient returns a client of the admin API for the selected profile.
func apiClient(cmd *cobra.Command) (*adminclient.Client, error) {
	if err := checkOutput(cmd); err != nil {
		return nil, err
	}
	name, _ := cmd.Flags().GetString("profile")
	c, err := resolveProfile(cmd.Context(), name, cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	var opts []adminclient.ClientOption
	if c.authInBody {
		opts = append(opts, adminclient.WithAuthInBody())
	}
	return adminclient.New(c.url, c.clientID, c.secret, c.scopes, opts...), nil
}

// render prints v as JSON, or as a table through table when the output
// format is table.
func render(cmd *cobra.Command, v any, table func(tw *tabwriter.Writer)) error {
	if outputFormat(cmd) == "json" {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// row writes one tab-separated table row.
func row(tw io.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// requireYes guards destructive verbs.
func requireYes(cmd *cobra.Command, what string) error {
	if yes, _ := cmd.Flags().GetBool("yes"); !yes {
		return fmt.Errorf("%s cannot be undone; add --yes to confirm", what)
	}
	return nil
}
