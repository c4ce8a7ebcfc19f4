package store

import (
	"context"
	"time"
)

// AuthFailureCount is how many failed authentications one instance counted
// against one key (a client id or a remote address, as the limiter names
// it) in the window beginning at Window.
type AuthFailureCount struct {
	Instance string
	Key      string
	Window   time.Time // start of the window, whole seconds
	Count    int64
}

// AuthFailures shares failed-authentication counts between the instances
// on one database, so the failure rate limits hold across them. It is
// outside transactions and the change feed on purpose: an instance flushes
// its counts in one batch every second or so and reads the others' back,
// and nothing is written on a successful authentication. It is part of
// Store; consumers that need only these counts take this interface.
type AuthFailures interface {
	// AddAuthFailures adds the counts to the stored ones (upsert
	// increments, so repeated flushes of one window add up).
	AddAuthFailures(ctx context.Context, counts []AuthFailureCount) error
	// ListAuthFailures lists the counts of windows that begin at or after
	// since, of every instance but the given one.
	ListAuthFailures(ctx context.Context, since time.Time, exceptInstance string) ([]AuthFailureCount, error)
	// DeleteAuthFailures removes the counts of windows that begin before
	// before, returning how many rows it removed.
	DeleteAuthFailures(ctx context.Context, before time.Time) (int, error)
}
