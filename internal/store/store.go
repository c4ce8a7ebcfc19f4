// Package store defines keyshift's persistence contract: the domain records,
// the Store interface every backend implements, its sentinel errors and the
// change feed that keeps in-memory caches coherent.
//
// The shape follows Dex: per-entity Create/Get/List/Update/Delete, where
// Update takes a function run inside the transaction so read-modify-write is
// never racy. All writes happen inside Store.Tx so that an admin change and
// its audit event commit together or not at all.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors that every backend maps its own errors onto.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict reports a violated uniqueness rule other than the primary
	// key, e.g. a client contact login already taken in the tenant.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable reports that the backend cannot be reached.
	ErrUnavailable = errors.New("store unavailable")
	// ErrOutcomeUnknown, always together with ErrUnavailable, reports a
	// transaction whose COMMIT was sent but not answered: it may have been
	// applied. Every other failed Tx was not.
	ErrOutcomeUnknown = errors.New("commit outcome unknown")
)

// Reader holds the read methods, available both on Store and inside a Tx.
type Reader interface {
	KeyReader
	UserReader
	GrantReader
	TrafficReader

	GetTenant(ctx context.Context, id string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	GetScope(ctx context.Context, name string) (Scope, error)
	ListScopes(ctx context.Context) ([]Scope, error)

	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients lists one tenant's clients, or every client when tenant is "".
	ListClients(ctx context.Context, tenant string) ([]Client, error)

	GetSigningKey(ctx context.Context, kid string) (SigningKey, error)
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)

	GetRevocation(ctx context.Context, jti string) (Revocation, error)
	// ListRevocations lists revocations whose token has not expired at now.
	ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error)

	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// Tx is a transaction. Its writes become visible, and their changes are
// published on the feed, only when the function passed to Store.Tx returns nil.
type Tx interface {
	Reader
	KeyTx
	UserTx
	GrantTx
	TrafficTx

	CreateTenant(ctx context.Context, t Tenant) error
	UpdateTenant(ctx context.Context, id string, fn func(Tenant) (Tenant, error)) error
	// DeleteTenant removes a tenant and every object that belongs to it.
	DeleteTenant(ctx context.Context, id string) error

	// PutScope creates or replaces a scope of the catalogue.
	PutScope(ctx context.Context, s Scope) error
	DeleteScope(ctx context.Context, name string) error

	CreateClient(ctx context.Context, c Client) error
	UpdateClient(ctx context.Context, id string, fn func(Client) (Client, error)) error
	DeleteClient(ctx context.Context, id string) error

	CreateSigningKey(ctx context.Context, k SigningKey) error
	UpdateSigningKey(ctx context.Context, kid string, fn func(SigningKey) (SigningKey, error)) error
	DeleteSigningKey(ctx context.Context, kid string) error

	// CreateRevocation records a revoked token; revoking twice is not an error.
	CreateRevocation(ctx context.Context, r Revocation) error
	// DeleteExpiredRevocations removes revocations of tokens expired before now.
	DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error)

	// AppendAudit records an audit event; its ID and Time are set when empty.
	AppendAudit(ctx context.Context, e AuditEvent) error
}

// Store is a keyshift storage backend.
type Store interface {
	Reader
	// AuthFailures shares failed-authentication counts between the
	// instances on one database; every backend has it.
	AuthFailures
	// Tx runs fn in one transaction, committing when fn returns nil and
	// rolling back otherwise. Backends retry nothing: fn may run once only.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// Subscribe returns a channel of committed changes (from this instance and,
	// for shared backends, from others) until ctx is done. A slow subscriber
	// receives a ChangeResync instead of blocking writers.
	Subscribe(ctx context.Context) <-chan Change
	// Follow subscribes a cache to the same changes (see Feed.Follow): a
	// write of this instance returns from Tx only once every following
	// cache has applied it, bounded by DefaultApplyWait. Changes of other
	// instances are not waited for.
	Follow(ctx context.Context) *Subscription
	// Ping reports whether the backend is reachable (used by /readyz).
	Ping(ctx context.Context) error
	// CheckIntegrity verifies the backend's on-disk consistency.
	CheckIntegrity(ctx context.Context) error
	Close() error
}

// ChangeKind names the kind of object a change is about.
type ChangeKind string

const (
	ChangeTenant     ChangeKind = "tenant"
	ChangeScope      ChangeKind = "scope"
	ChangeClient     ChangeKind = "client"
	ChangeSigningKey ChangeKind = "signing_key"
	ChangeRevocation ChangeKind = "revocation"
	// ChangeResync tells a subscriber it may have missed changes and must
	// reload everything it caches.
	ChangeResync ChangeKind = "resync"
)

// Change says that an object was created, updated or deleted.
type Change struct {
	Kind   ChangeKind `json:"kind"`
	ID     string     `json:"id"`
	Tenant string     `json:"tenant,omitempty"`
	// Seq is the change's number on this instance's feed, for a follower's
	// Subscription.Applied; 0 on a plain Subscribe channel.
	Seq uint64 `json:"-"`
}

// PlatformTenant is the tenant of the platform's own objects; its admins are
// keyshift operators.
const PlatformTenant = "platform"

// Status values for tenants and clients.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Tenant is a customer of the platform.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Scope is an entry of the scope catalogue: `service.object.right` and the
// legacy key permissions (`object:action`) it covers.
type Scope struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	// Builtin scopes (OIDC and keyshift's own) cannot be edited or deleted.
	Builtin   bool      `json:"builtin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Contact is the person responsible for a client or key.
type Contact struct {
	Login     string `json:"login,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
}

// ClientSecret is one live secret of a client, stored only as its SHA-256.
type ClientSecret struct {
	ID        string     `json:"id"`
	Hash      []byte     `json:"hash"`
	Hint      string     `json:"hint"` // last characters, to tell secrets apart
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Client is an OAuth client of a tenant.
type Client struct {
	ID           string         `json:"client_id"`
	Tenant       string         `json:"tenant"`
	Name         string         `json:"name"`
	Contact      Contact        `json:"contact"`
	GrantTypes   []string       `json:"grant_types"`
	Scopes       []string       `json:"scopes"`
	RedirectURIs []string       `json:"redirect_uris"`
	AuthMethod   string         `json:"token_endpoint_auth_method"`
	Secrets      []ClientSecret `json:"-"`
	// AccessTokenTTL is the lifetime of access tokens issued to the client.
	AccessTokenTTL time.Duration `json:"-"`
	Status         string        `json:"status"`
	// JWKS is the client's public key set (JSON) for private_key_jwt, when
	// registered by value; JWKSURI where it is fetched instead (RFC 7591 §2).
	JWKS    []byte `json:"-"`
	JWKSURI string `json:"jwks_uri,omitempty"`
	// IDTokenAlg is the JWS alg of the client's ID tokens; "" means RS256,
	// the OpenID Connect default.
	IDTokenAlg string `json:"id_token_signed_response_alg,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return to.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// ConvertedFromKey is the legacy API key this client replaced, if any.
	ConvertedFromKey string    `json:"converted_from_key,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Signing key states: a key is published while next, signs while active, and
// stays published while retired until every token it signed has expired.
const (
	KeyNext    = "next"
	KeyActive  = "active"
	KeyRetired = "retired"
)

// SigningKey is a JWS signing key. The private part is encrypted by the
// signing package before it reaches the store.
type SigningKey struct {
	ID        string `json:"kid"`
	Alg       string `json:"alg"`
	Use       string `json:"use"` // "access_token" or "id_token"
	State     string `json:"state"`
	PublicJWK []byte `json:"-"`
	// PrivateSealed is the private JWK sealed with AES-256-GCM.
	PrivateSealed []byte    `json:"-"`
	CreatedAt     time.Time `json:"created_at"`
	// ActivateAt is when a next key may start signing.
	ActivateAt time.Time `json:"activate_at"`
	// RetiredAt is when an active key stopped signing (zero unless retired).
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// PublishUntil is when a retired key may leave the JWKS: its retirement
	// plus the longest token lifetime.
	PublishUntil time.Time `json:"publish_until,omitzero"`
}

// Revocation records a revoked access token until the token's own expiry.
type Revocation struct {
	JTI       string    `json:"jti"`
	Tenant    string    `json:"tenant"`
	ClientID  string    `json:"client_id"`
	RevokedAt time.Time `json:"revoked_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AuditEvent records who did what to which object, when and from where.
type AuditEvent struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`        // client id or user login
	ActorTenant string    `json:"actor_tenant"` // tenant of the actor
	Tenant      string    `json:"tenant"`       // tenant of the object ("" for global objects)
	Action      string    `json:"action"`       // e.g. "client.create"
	ObjectType  string    `json:"object_type"`
	ObjectID    string    `json:"object_id"`
	RemoteAddr  string    `json:"remote_addr,omitempty"`
	// Details is a small JSON object describing the change; never a secret.
	Details []byte `json:"details,omitempty"`
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Tenant   string // "" = all tenants
	Action   string
	ObjectID string
	Before   time.Time // exclusive; zero = no bound
	Limit    int       // 0 = backend default (100)
}
