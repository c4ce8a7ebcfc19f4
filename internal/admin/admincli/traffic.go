package admincli

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
)

func newTrafficCmd() *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "traffic [TENANT] [--days N] [-o table|json]",
		Short: "Daily requests made with API keys and with OAuth tokens (all tenants for an operator without TENANT)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 || days > 366 {
				return fmt.Errorf("--days must be 1 to 366, not %d", days)
			}
			tenant := ""
			if len(args) == 1 {
				tenant = args[0]
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			rep, err := c.Traffic(cmd.Context(), tenant, days)
			if err != nil {
				return err
			}
			return render(cmd, rep, func(tw *tabwriter.Writer) { trafficTable(tw, rep) })
		},
	}
	cmd.Flags().IntVar(&days, "days", 30, "how many days back, today included (1 to 366)")
	return cmd
}

func trafficTable(tw *tabwriter.Writer, rep admin.TrafficReport) {
	row(tw, "DAY", "KEY REQUESTS", "TOKEN REQUESTS", "TOKEN SHARE")
	for _, d := range rep.Days {
		share := "—"
		if total := d.KeyRequests + d.TokenRequests; total > 0 {
			share = strconv.FormatInt(100*d.TokenRequests/total, 10) + " %"
		}
		row(tw, d.Day.Format("2006-01-02"), strconv.FormatInt(d.KeyRequests, 10), strconv.FormatInt(d.TokenRequests, 10), share)
	}
}
