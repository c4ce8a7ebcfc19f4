package admincli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
)

func newMigrationCmd() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "migration [--at WHEN] [-o table|json|csv]",
		Short: "Per-tenant migration status; with --at, who would be refused then",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("output")
			csvOut := out == "csv"
			var when time.Time
			if at != "" {
				var err error
				if when, err = parseInstant(at); err != nil {
					return fmt.Errorf("--at: %w", err)
				}
			}
			// -o csv is this command's own: check the rest as usual.
			if csvOut {
				_ = cmd.Flags().Set("output", "json")
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			rep, err := c.Migration(cmd.Context(), when)
			if err != nil {
				return err
			}
			if csvOut {
				return admin.WriteMigrationCSV(cmd.OutOrStdout(), rep)
			}
			return render(cmd, rep, func(tw *tabwriter.Writer) { migrationTable(tw, rep) })
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "evaluate the timeline at this date or RFC 3339 time (default now)")
	return cmd
}

func migrationTable(tw *tabwriter.Writer, rep apikey.Report) {
	row(tw, "TENANT", "STATUS", "ACTIVE KEYS", "IN USE 30D", "CLIENTS", "KEYS OFF AT", "REFUSED AT "+fmtTime(rep.At))
	for _, t := range rep.Tenants {
		var refused []string
		for _, k := range t.WouldBeRefused {
			refused = append(refused, fmt.Sprintf("%s (%s, %d req/30d)", k.Name, k.Decision, k.Requests30d))
		}
		row(tw, t.Tenant, t.Status, strconv.Itoa(t.ActiveKeys), strconv.Itoa(t.KeysInUse30d), strconv.Itoa(t.Clients),
			fmtTimePtr(t.KeysOffAt), orDash(strings.Join(refused, "; ")))
	}
}
