package admincli

import (
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
)

func newSigningKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "signing-keys", Short: "List and rotate the token signing keys"}
	run := func(rotate bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			var ks []admin.SigningKeyView
			if rotate {
				ks, err = c.RotateSigningKeys(cmd.Context())
			} else {
				ks, err = c.ListSigningKeys(cmd.Context())
			}
			if err != nil {
				return err
			}
			return render(cmd, ks, func(tw *tabwriter.Writer) {
				row(tw, "KID", "ALG", "STATE", "CREATED", "ACTIVATE AT", "RETIRED", "PUBLISH UNTIL")
				for _, k := range ks {
					row(tw, k.KID, k.Alg, k.State, fmtTime(k.CreatedAt), fmtTime(k.ActivateAt), fmtTime(k.RetiredAt), fmtTime(k.PublishUntil))
				}
			})
		}
	}
	cmd.AddCommand(
		&cobra.Command{Use: "list", Short: "List signing keys", Args: cobra.NoArgs, RunE: run(false)},
		&cobra.Command{
			Use: "rotate", Short: "Promote the next key now and retire the active one (operators)",
			Args: cobra.NoArgs, RunE: run(true),
		},
	)
	return cmd
}

func newAuditCmd() *cobra.Command {
	var q admin.AuditQuery
	var before string
	cmd := &cobra.Command{
		Use:   "audit [--tenant T] [--action A] [--object-id ID] [--before TIME] [--limit N]",
		Short: "Show the audit trail, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if before != "" {
				t, err := time.Parse(time.RFC3339, before)
				if err != nil {
					return err
				}
				q.Before = t
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListAudit(cmd.Context(), q)
			if err != nil {
				return err
			}
			return render(cmd, list, func(tw *tabwriter.Writer) {
				row(tw, "TIME", "ACTOR", "TENANT", "ACTION", "OBJECT", "DETAILS")
				for _, e := range list.Events {
					row(tw, fmtTime(e.Time), e.Actor+"@"+orDash(e.ActorTenant), orDash(e.Tenant), e.Action,
						orDash(e.ObjectID), orDash(string(e.Details)))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Tenant, "tenant", "", "only this tenant's events")
	f.StringVar(&q.Action, "action", "", "only this action, e.g. client.create")
	f.StringVar(&q.ObjectID, "object-id", "", "only events about this object")
	f.StringVar(&before, "before", "", "only events before this RFC 3339 time (paging)")
	f.IntVar(&q.Limit, "limit", 0, "at most this many events (default 100, max 1000)")
	return cmd
}
