package store

import (
	"context"
	"time"
)

// KeyReader holds the read methods for legacy API keys, their usage, the
// notification outbox and settings documents (such as the sunset timeline).
type KeyReader interface {
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// GetAPIKeyByHash finds a key by the SHA-256 of its secret.
	GetAPIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	// ListAPIKeys lists keys in ID order, one page at a time.
	ListAPIKeys(ctx context.Context, f APIKeyFilter) ([]APIKey, error)

	// ListUsage lists per-key, per-day usage rows, oldest day first.
	ListUsage(ctx context.Context, f UsageFilter) ([]UsageDay, error)

	// GetSetting returns a settings document (e.g. "timeline").
	GetSetting(ctx context.Context, name string) ([]byte, error)

	// ListDueOutbox lists undelivered messages whose next attempt is due at now.
	ListDueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxMessage, error)

	// For moving a whole store (storecopy):

	// CountAPIKeys returns the number of keys without reading them.
	CountAPIKeys(ctx context.Context) (int64, error)
	// ListSettings returns every settings document by name.
	ListSettings(ctx context.Context) (map[string][]byte, error)
	// ListOutbox lists every message, delivered or not, in ID order after
	// the given ID.
	ListOutbox(ctx context.Context, after string, limit int) ([]OutboxMessage, error)
}

// KeyTx holds the write methods for legacy API keys, usage, outbox and settings.
type KeyTx interface {
	KeyReader

	CreateAPIKey(ctx context.Context, k APIKey) error
	// CreateAPIKeys is CreateAPIKey for each key, in one bulk insert.
	CreateAPIKeys(ctx context.Context, keys []APIKey) error
	UpdateAPIKey(ctx context.Context, id string, fn func(APIKey) (APIKey, error)) error
	DeleteAPIKey(ctx context.Context, id string) error

	// AddUsage adds the deltas to the stored counters (upsert increments, so
	// flushes from many instances add up exactly) and raises LastUsedAt of
	// each key when the delta's is later.
	AddUsage(ctx context.Context, deltas []UsageDelta) error

	PutSetting(ctx context.Context, name string, value []byte) error

	EnqueueOutbox(ctx context.Context, m OutboxMessage) error
	UpdateOutbox(ctx context.Context, id string, fn func(OutboxMessage) (OutboxMessage, error)) error
	// DeleteDeliveredOutbox removes messages delivered before the given time.
	DeleteDeliveredOutbox(ctx context.Context, before time.Time) (int, error)
}

// More change kinds, for the objects above.
const (
	ChangeAPIKey  ChangeKind = "api_key"
	ChangeSetting ChangeKind = "setting"
)

// Owners and statuses of API keys.
const (
	OwnerTenant   = "tenant"
	OwnerPlatform = "platform"
	StatusRevoked = "revoked"
)

// APIKey is a legacy API key, stored only as the SHA-256 of its secret.
type APIKey struct {
	ID          string   `json:"id"`
	Tenant      string   `json:"tenant"`
	Hash        []byte   `json:"-"` // SHA-256 of the key; unique
	Hint        string   `json:"hint,omitempty"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Contact     Contact  `json:"contact"`
	Permissions []string `json:"permissions"` // object:action; empty = all APIs
	// ExpiresAt is midnight UTC of the expiry date.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Owner     string     `json:"owner"` // OwnerTenant or OwnerPlatform
	Purpose   string     `json:"purpose,omitempty"`
	Status    string     `json:"status"` // StatusActive, StatusDisabled, StatusRevoked
	// ConvertedToClient is the OAuth client that replaced this key.
	ConvertedToClient string `json:"converted_to_client,omitempty"`
	// DisableAt schedules an automatic disable (after conversion).
	DisableAt  *time.Time `json:"disable_at,omitempty"`
	Imported   bool       `json:"imported,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// APIKeyFilter selects API keys. Empty fields match everything.
type APIKeyFilter struct {
	Tenant string
	Owner  string
	Status string
	After  string // keyset paging: IDs greater than this
	Limit  int    // 0 = 1000
}

// RouteCount is how often a key called one route.
type RouteCount struct {
	Route string `json:"route"`
	Count int64  `json:"count"`
}

// UsageDelta is what one instance counted for one key on one UTC day since
// its last flush.
type UsageDelta struct {
	KeyID    string
	Tenant   string
	Day      time.Time // midnight UTC
	Accepted int64
	// Refused counts refusals by decision code (api_key_sunset, …).
	Refused       map[string]int64
	LastUsedAt    time.Time
	LastIP        string
	LastUserAgent string
	Routes        []RouteCount
}

// UsageDay is the stored usage of one key on one UTC day.
type UsageDay struct {
	KeyID         string           `json:"key_id"`
	Tenant        string           `json:"tenant"`
	Day           time.Time        `json:"day"`
	Accepted      int64            `json:"accepted"`
	Refused       map[string]int64 `json:"refused,omitempty"`
	LastUsedAt    time.Time        `json:"last_used_at"`
	LastIP        string           `json:"last_ip,omitempty"`
	LastUserAgent string           `json:"last_user_agent,omitempty"`
	Routes        []RouteCount     `json:"routes,omitempty"` // most used first, at most 10
}

// UsageFilter selects usage rows. Empty fields match everything.
type UsageFilter struct {
	Tenant string
	KeyID  string
	Since  time.Time // first day included
}

// OutboxMessage is a notification waiting for delivery; it is written in
// the same transaction as the event it reports.
type OutboxMessage struct {
	ID            string     `json:"id"`
	Tenant        string     `json:"tenant"` // "" = the operator's webhook
	Topic         string     `json:"topic"`  // e.g. "key.disabled"
	Payload       []byte     `json:"payload"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
}
