package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationStatus is the state of one embedded migration.
type MigrationStatus struct {
	Version   int64
	Name      string // file name, e.g. "00001_init.sql"
	Applied   bool
	AppliedAt time.Time // zero unless applied
}

// MigrateUp applies pending migrations to the database at dsn, as Open
// does, and returns the versions it applied. Several processes may run it
// at once: they queue on an advisory lock.
func MigrateUp(ctx context.Context, dsn string, opts Options) ([]int64, error) {
	opts.defaults()
	cfg, err := poolConfig(dsn, opts.Schema, opts.Timeout)
	if err != nil {
		return nil, err
	}
	var applied []int64
	err = withMigrationLock(ctx, cfg.ConnConfig, opts.Schema, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		for _, r := range results {
			if r.Error == nil {
				applied = append(applied, r.Source.Version)
				opts.Logger.InfoContext(ctx, "postgres migration applied",
					"version", r.Source.Version, "duration", r.Duration)
			}
		}
		return err
	})
	return applied, err
}

// MigrateStatus reports every embedded migration and whether the database
// at dsn has it.
func MigrateStatus(ctx context.Context, dsn string, opts Options) ([]MigrationStatus, error) {
	opts.defaults()
	cfg, err := poolConfig(dsn, opts.Schema, opts.Timeout)
	if err != nil {
		return nil, err
	}
	var out []MigrationStatus
	err = withMigrationLock(ctx, cfg.ConnConfig, opts.Schema, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range st {
			out = append(out, MigrationStatus{Version: m.Source.Version,
				Name: pathBase(m.Source.Path), Applied: m.State == goose.StateApplied,
				AppliedAt: m.AppliedAt.UTC()})
		}
		return nil
	})
	return out, err
}

func pathBase(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// migrate applies pending migrations for Open.
func migrate(ctx context.Context, cc *pgx.ConnConfig, schema string, log *slog.Logger) error {
	return withMigrationLock(ctx, cc, schema, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		for _, r := range results {
			if r.Error == nil {
				log.InfoContext(ctx, "postgres migration applied",
					"version", r.Source.Version, "duration", r.Duration)
			}
		}
		return err
	})
}

// latestVersion is the highest embedded migration version.
func latestVersion() (int64, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	entries, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		v, err := goose.NumericComponent(e)
		if err != nil {
			return 0, err
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// withMigrationLock runs fn with a goose provider while holding a session
// advisory lock on a dedicated connection, so that instances starting
// together migrate one after the other; the later ones find nothing to do.
// The lock key is derived from the schema, so separate schemas (tests) do
// not wait on each other. If this process dies, PostgreSQL drops the
// session and its lock.
func withMigrationLock(ctx context.Context, cc *pgx.ConnConfig, schema string,
	fn func(p *goose.Provider) error) (err error) {
	lockConn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return fmt.Errorf("postgres: migrate: connect: %w", mapErr(err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = errors.Join(err, lockConn.Close(cctx))
	}()
	// The key names the schema migrated. Options.Schema names it alone:
	// current_schema() is empty until the first of several instances has
	// created that schema, and the others would then take another lock.
	target := schema
	if target == "" {
		if err := lockConn.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&target); err != nil {
			return fmt.Errorf("postgres: migrate: read schema: %w", mapErr(err))
		}
	}
	key := "keyshift.migrate." + schema + "." + target // as before when the schema existed
	if _, err := lockConn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, key); err != nil {
		return fmt.Errorf("postgres: migrate: take advisory lock: %w", mapErr(err))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := lockConn.Exec(uctx, `SELECT pg_advisory_unlock(hashtext($1))`, key); uerr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: migrate: release advisory lock: %w", uerr))
		}
	}()
	if schema != "" {
		if _, err := lockConn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: migrate: create schema %q: %w", schema, mapErr(err))
		}
	}

	db := stdlib.OpenDB(*cc.Copy())
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if err := fn(p); err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	return nil
}
