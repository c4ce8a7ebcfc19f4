package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultTimeout bounds one store operation (a read, or a whole Tx) when
// the caller set no earlier deadline: a database that is reachable but does
// not answer must end in ErrUnavailable within seconds, never hang the
// request that waits on it.
const DefaultTimeout = 5 * time.Second

// Bound returns ctx with a deadline d from now, unless ctx already ends
// sooner or d is not positive. Backends call it for every read and every
// transaction, so a long job (an import, a store copy) gets a deadline per
// batch, not one for the whole job.
func Bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Unavailable wraps err with ErrUnavailable when it ended because ctx's
// deadline passed, so that callers answer "retry later" rather than
// "internal error". A caller that went away (context.Canceled) is not an
// outage and err is returned as it is.
func Unavailable(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: deadline passed: %w", ErrUnavailable, err)
	}
	return err
}

// LogLevel is the level at which to log a failed store operation: WARN for
// an outage (ErrUnavailable), which is no bug and is answered 503 or
// retried, ERROR for anything else.
func LogLevel(err error) slog.Level {
	if errors.Is(err, ErrUnavailable) {
		return slog.LevelWarn
	}
	return slog.LevelError
}
