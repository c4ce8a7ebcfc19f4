package server

import (
	"context"
	"fmt"
	"slices"
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
// between the two steps harmless: the next start finishes the job.
func Initialise(ctx context.Context, st store.Store, issuer string, now func() time.Time) (*OperatorCredentials, error) {
	if _, err := admin.Bootstrap(ctx, st, now); err != nil {
		return nil, fmt.Errorf("bootstrap store: %w", err)
	}
	clients, err := st.ListClients(ctx, store.PlatformTenant)
	if err != nil {
		return nil, fmt.Errorf("list platform clients: %w", err)
	}
	for _, c := range clients {
		if c.ID != admin.ConsoleClientID && slices.Contains(c.Scopes, "keyshift:admin") {
			return nil, nil
		}
	}
	adm := admin.New(st, nil, nil, admin.Config{Now: now})
	created, err := adm.CreateClient(ctx, admin.SystemPrincipal(), store.PlatformTenant, admin.CreateClientRequest{
		Name:    "keyshift operator",
		Scopes:  []string{"keyshift:admin"},
		Contact: store.Contact{Login: "operator"},
	})
	if err != nil {
		return nil, fmt.Errorf("create operator client: %w", err)
	}
	return &OperatorCredentials{Issuer: issuer, ClientID: created.ClientID, ClientSecret: created.ClientSecret}, nil
}
