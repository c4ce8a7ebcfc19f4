package admincli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/apikey"
)

func newTimelineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "timeline", Short: "Show and edit the API key sunset timeline (edits: operators)"}
	cmd.AddCommand(
		&cobra.Command{
			Use: "show", Short: "Show the timeline", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := apiClient(cmd)
				if err != nil {
					return err
				}
				t, err := c.GetTimeline(cmd.Context())
				if err != nil {
					return err
				}
				return renderTimeline(cmd, t)
			},
		},
		newTimelineSetCmd(), newBrownoutCmd(), newExtendCmd(),
	)
	return cmd
}

// editTimeline reads the timeline, applies edit and writes it back. The
// server validates the result as a whole.
func editTimeline(cmd *cobra.Command, edit func(*apikey.Timeline) error) error {
	c, err := apiClient(cmd)
	if err != nil {
		return err
	}
	t, err := c.GetTimeline(cmd.Context())
	if err != nil {
		return err
	}
	if err := edit(&t); err != nil {
		return err
	}
	out, err := c.PutTimeline(cmd.Context(), t)
	if err != nil {
		return err
	}
	return renderTimeline(cmd, out)
}

// parseInstant reads a date (midnight UTC) or an RFC 3339 time.
func parseInstant(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", s)
}

func newTimelineSetCmd() *cobra.Command {
	milestones := []struct{ flag, help string }{
		{"deprecated-at", "keys are announced as deprecated"},
		{"tenant-oauth-only-after", "tenants created after this get no keys"},
		{"no-new-keys-at", "no tenant may create keys"},
		{"keys-off-at", "tenant keys are refused (global sunset)"},
	}
	cmd := &cobra.Command{
		Use:   "set [--deprecated-at WHEN] [--keys-off-at WHEN] …",
		Short: "Set milestones (a date, an RFC 3339 time, or none to clear) and settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return editTimeline(cmd, func(t *apikey.Timeline) error {
				fields := map[string]**time.Time{"deprecated-at": &t.DeprecatedAt, "tenant-oauth-only-after": &t.TenantOAuthOnlyAfter,
					"no-new-keys-at": &t.NoNewKeysAt, "keys-off-at": &t.KeysOffAt}
				changed := false
				for name, dst := range fields {
					if !cmd.Flags().Changed(name) {
						continue
					}
					changed = true
					v, _ := cmd.Flags().GetString(name)
					if v == "none" || v == "" {
						*dst = nil
						continue
					}
					at, err := parseInstant(v)
					if err != nil {
						return fmt.Errorf("--%s: %w", name, err)
					}
					*dst = &at
				}
				if cmd.Flags().Changed("migration-guide-url") {
					changed = true
					t.MigrationGuideURL, _ = cmd.Flags().GetString("migration-guide-url")
				}
				if cmd.Flags().Changed("disable-unused-after-days") {
					changed = true
					t.DisableUnusedAfterDays, _ = cmd.Flags().GetInt("disable-unused-after-days")
				}
				if !changed {
					return fmt.Errorf("nothing to set: give at least one flag")
				}
				return nil
			})
		},
	}
	for _, m := range milestones {
		cmd.Flags().String(m.flag, "", "when "+m.help+" (date, RFC 3339 or none)")
	}
	cmd.Flags().String("migration-guide-url", "", "https URL of the migration guide linked from key responses")
	cmd.Flags().Int("disable-unused-after-days", 0, "disable tenant keys unused this many days after deprecation (0 = off)")
	return cmd
}

func newBrownoutCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "brownout", Short: "Add or remove brownout windows"}
	var start, end string
	var tenants []string
	add := &cobra.Command{
		Use: "add --start WHEN --end WHEN [--tenant T]…", Short: "Add a brownout window [start, end)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := parseInstant(start)
			if err != nil {
				return fmt.Errorf("--start: %w", err)
			}
			e, err := parseInstant(end)
			if err != nil {
				return fmt.Errorf("--end: %w", err)
			}
			return editTimeline(cmd, func(t *apikey.Timeline) error {
				t.Brownouts = append(t.Brownouts, apikey.Brownout{Start: s, End: e, Tenants: tenants})
				return nil
			})
		},
	}
	add.Flags().StringVar(&start, "start", "", "start (RFC 3339 or date)")
	add.Flags().StringVar(&end, "end", "", "end, exclusive (RFC 3339 or date)")
	add.Flags().StringSliceVar(&tenants, "tenant", nil, "limit to these tenants (repeatable; default all)")
	_ = add.MarkFlagRequired("start")
	_ = add.MarkFlagRequired("end")

	var rmStart string
	remove := &cobra.Command{
		Use: "remove --start WHEN", Short: "Remove the brownout windows starting at WHEN", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := parseInstant(rmStart)
			if err != nil {
				return fmt.Errorf("--start: %w", err)
			}
			return editTimeline(cmd, func(t *apikey.Timeline) error {
				n := len(t.Brownouts)
				t.Brownouts = slices.DeleteFunc(t.Brownouts, func(b apikey.Brownout) bool { return b.Start.Equal(s) })
				if len(t.Brownouts) == n {
					return fmt.Errorf("no brownout starts at %s", s.Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	remove.Flags().StringVar(&rmStart, "start", "", "start of the window to remove")
	_ = remove.MarkFlagRequired("start")
	cmd.AddCommand(add, remove)
	return cmd
}

func newExtendCmd() *cobra.Command {
	var until, reason string
	var drop bool
	cmd := &cobra.Command{
		Use:   "extend TENANT --until WHEN --reason TEXT",
		Short: "Give a tenant a later keys_off_at (or --remove its extension)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant := args[0]
			var at time.Time
			if !drop {
				var err error
				if at, err = parseInstant(until); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
			}
			return editTimeline(cmd, func(t *apikey.Timeline) error {
				n := len(t.Extensions)
				t.Extensions = slices.DeleteFunc(t.Extensions, func(x apikey.Extension) bool { return x.Tenant == tenant })
				if drop {
					if len(t.Extensions) == n {
						return fmt.Errorf("tenant %s has no extension", tenant)
					}
					return nil
				}
				t.Extensions = append(t.Extensions, apikey.Extension{Tenant: tenant, KeysOffAt: at, Reason: reason})
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&until, "until", "", "the tenant's keys_off_at (date or RFC 3339)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the tenant needs more time")
	cmd.Flags().BoolVar(&drop, "remove", false, "remove the tenant's extension")
	return cmd
}

func renderTimeline(cmd *cobra.Command, t apikey.Timeline) error {
	return render(cmd, t, func(tw *tabwriter.Writer) {
		for _, kv := range [][2]string{
			{"deprecated_at", fmtTimePtr(t.DeprecatedAt)}, {"tenant_oauth_only_after", fmtTimePtr(t.TenantOAuthOnlyAfter)},
			{"no_new_keys_at", fmtTimePtr(t.NoNewKeysAt)}, {"keys_off_at", fmtTimePtr(t.KeysOffAt)},
			{"migration_guide_url", orDash(t.MigrationGuideURL)},
			{"disable_unused_after_days", fmt.Sprint(t.DisableUnusedAfterDays)},
		} {
			row(tw, kv[0]+":", kv[1])
		}
		for _, b := range t.Brownouts {
			who := strings.Join(b.Tenants, ",")
			if who == "" {
				who = "all tenants"
			}
			row(tw, "brownout:", fmtTime(b.Start)+" to "+fmtTime(b.End), who)
		}
		for _, x := range t.Extensions {
			row(tw, "extension:", x.Tenant, "until "+fmtTime(x.KeysOffAt), x.Reason, "by "+orDash(x.GrantedBy))
		}
	})
}
