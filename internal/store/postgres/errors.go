package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyshift/keyshift/internal/store"
)

// mapErr turns driver errors into the store's sentinel errors, keeping the
// original in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505" && strings.HasSuffix(pe.ConstraintName, "_pkey"):
			return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
		case pe.Code == "23505":
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case pe.Code == "23503":
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, cannot connect now
			pe.Code == "53300": // too many connections
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unavailable reports whether err means the database could not be reached
// or the connection broke, as opposed to the caller giving up.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// A statement cut off by a broken connection (no server error).
	return pgconn.SafeToRetry(err) || errors.Is(err, net.ErrClosed)
}
