package server

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/store"
)

// OperatorCredentials are the platform operator's client credentials,
// printed once when a store is initialised.
type OperatorCredentials struct {
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// Initialise migrates the store, ensures the platform tenant and built-in
// scopes exist and, when no operator client exists yet, creates one. It
// returns the new operator's credentials, or nil when one already existed.
// Checking for an operator rather than for an empty store makes a crash
// between the two steps harmless: the next start finishes the job. Both
// steps are safe when several instances (or init and serve) run them at
// the same moment on a new store: exactly one creates each object.
func Initialise(ctx context.Context, st store.Store, issuer string, now func() time.Time) (*OperatorCredentials, error) {
	if _, err := admin.Bootstrap(ctx, st, now); err != nil {
		return nil, fmt.Errorf("bootstrap store: %w", err)
	}
	created, err := admin.EnsureOperator(ctx, st, now)
	if err != nil || created == nil {
		return nil, err
	}
	return &OperatorCredentials{Issuer: issuer, ClientID: created.ClientID, ClientSecret: created.ClientSecret}, nil
}
