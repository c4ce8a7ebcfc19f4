package store

import (
	"context"
	"time"
)

// TrafficReader reads the daily counts of API requests made with OAuth
// access tokens, the counterpart of the legacy keys' usage days: together
// they show how far a tenant's traffic has moved from keys to tokens.
type TrafficReader interface {
	// ListTokenUsage lists per-tenant, per-client, per-day token request
	// counts, oldest day first, then by tenant and client.
	ListTokenUsage(ctx context.Context, f TokenUsageFilter) ([]TokenUsageDay, error)
}

// TrafficTx holds the write side of token request counts.
type TrafficTx interface {
	TrafficReader

	// AddTokenUsage adds the deltas to the stored counters (upsert
	// increments, so flushes from many instances add up exactly). Like
	// AddUsage it publishes no change.
	AddTokenUsage(ctx context.Context, deltas []TokenUsageDelta) error
}

// TokenUsageDelta is what one instance counted for one client on one UTC day
// since its last flush.
type TokenUsageDelta struct {
	Tenant   string
	ClientID string
	Day      time.Time // midnight UTC
	Requests int64
}

// TokenUsageDay is the stored count of one client's token requests on one
// UTC day. It outlives the client, as key usage outlives its key, so that
// reports still count what a deleted client did.
type TokenUsageDay struct {
	Tenant   string    `json:"tenant"`
	ClientID string    `json:"client_id"`
	Day      time.Time `json:"day"`
	Requests int64     `json:"requests"`
}

// TokenUsageFilter selects token usage rows. Empty fields match everything.
type TokenUsageFilter struct {
	Tenant string
	Since  time.Time // first day included
}
