package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/progress"
	"github.com/keyshift/keyshift/internal/server"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/storecopy"
)

// newMigrateCmd runs PostgreSQL migrations for operators who apply them
// separately from starting instances (SQLite migrates on open).
func newMigrateCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{Use: "migrate", Short: "Apply or show PostgreSQL schema migrations"}
	cmd.PersistentFlags().StringVar(&db, "db", envOr("KEYSHIFT_DB", ""), "postgres:// URL [KEYSHIFT_DB]")
	needPostgres := func() error {
		if !server.IsPostgres(db) {
			return fmt.Errorf("--db must be a postgres:// URL (SQLite migrates itself when opened)")
		}
		return nil
	}
	cmd.AddCommand(&cobra.Command{
		Use: "up", Short: "Apply pending migrations (safe while instances start: advisory lock)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needPostgres(); err != nil {
				return err
			}
			applied, err := postgres.MigrateUp(cmd.Context(), db, postgres.Options{Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))})
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
			}
			for _, v := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %05d\n", v)
			}
			return nil
		},
	}, &cobra.Command{
		Use: "status", Short: "List migrations and whether each is applied", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needPostgres(); err != nil {
				return err
			}
			st, err := postgres.MigrateStatus(cmd.Context(), db, postgres.Options{})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
			for _, m := range st {
				applied := "no"
				if m.Applied {
					applied = m.AppliedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%05d\t%s\t%s\n", m.Version, m.Name, applied)
			}
			return tw.Flush()
		},
	})
	return cmd
}

// newStoreCmd moves an installation between backends.
func newStoreCmd() *cobra.Command {
	var from, to string
	copyCmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy every object from one store to an empty one and verify the counts",
		Long: `copy moves a single-machine installation to PostgreSQL (or back). Stop keyshift on
the source first: the copy takes no snapshot. The destination must be empty.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			if !server.IsPostgres(from) {
				// Opening a missing SQLite file would create an empty source.
				if _, err := os.Stat(strings.TrimPrefix(from, "sqlite:")); err != nil {
					return fmt.Errorf("source store %s: %w", from, err)
				}
			}
			// A batch job: each read and each batch may take longer than a
			// request's store timeout, but never hangs on a frozen database.
			src, err := server.OpenStoreTimeout(ctx, from, logger, time.Now, storecopy.BatchTimeout)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := server.OpenStoreTimeout(ctx, to, logger, time.Now, storecopy.BatchTimeout)
			if err != nil {
				return err
			}
			defer dst.Close()
			bar := progress.Count(os.Stderr, "copying")
			counts, err := storecopy.Copy(ctx, src, dst, func(done, total int64) {
				bar.ChangeMax64(total)
				_ = bar.Set64(done)
			})
			_ = bar.Finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied and verified %d objects: %+v\n", counts.Total(), counts)
			return nil
		},
	}
	copyCmd.Flags().StringVar(&from, "from", "", "source store: SQLite path (sqlite:PATH) or postgres:// URL")
	copyCmd.Flags().StringVar(&to, "to", "", "destination store, empty")
	_ = copyCmd.MarkFlagRequired("from")
	_ = copyCmd.MarkFlagRequired("to")
	cmd := &cobra.Command{Use: "store", Short: "Store maintenance"}
	cmd.AddCommand(copyCmd)
	return cmd
}
