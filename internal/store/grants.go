package store

import (
	"context"
	"time"
)

// Grant records are the short-lived state of the flows where a person
// takes part: authorization codes, refresh token families, device codes,
// browser sessions, remembered consents and used client-assertion ids.
// Every secret among them (code, refresh token, device code, user code,
// session cookie) is stored only as its SHA-256, so a copy of the database
// redeems nothing. They are not published on the change feed: each is read
// by the one request that presents it. DeleteExpiredGrants collects them.

// AuthCode is a one-time authorization code (RFC 6749 §4.1), found by the
// SHA-256 of the code. It is kept after redemption until it expires, so a
// replay can be recognised and what it issued revoked (RFC 6749 §4.1.2).
type AuthCode struct {
	Hash          []byte // SHA-256 of the code; primary key
	Tenant        string
	ClientID      string
	UserID        string
	SessionID     string // the session that approved it ("" for none)
	RedirectURI   string
	Scopes        []string
	Nonce         string
	CodeChallenge string // S256 challenge (RFC 7636)
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// Set on redemption: when, and what was issued, so that a replay can
	// revoke it.
	RedeemedAt      *time.Time
	IssuedJTI       string
	IssuedExpiresAt time.Time // expiry of the access token IssuedJTI
	IssuedFamily    string    // refresh family created, if any
}

// RefreshFamily is the chain of refresh tokens descending from one
// authorization (RFC 9700 §4.14.2). Only the newest token is current; the
// one it replaced is accepted for a short grace after rotation (a client's
// concurrent requests), and any older token is reuse that revokes the family.
type RefreshFamily struct {
	ID        string // appears in the refresh token, so it is found without an index on hashes
	Tenant    string
	ClientID  string
	UserID    string
	SessionID string
	Scopes    []string
	AuthTime  time.Time
	// CurrentHash is the SHA-256 of the current token; PreviousHash of the
	// one rotated out at RotatedAt.
	CurrentHash  []byte
	PreviousHash []byte
	RotatedAt    time.Time
	Generation   int
	// LastJTI/LastJTIExpiresAt name the newest access token issued from the
	// family, revoked with it.
	LastJTI          string
	LastJTIExpiresAt time.Time
	CreatedAt        time.Time
	ExpiresAt        time.Time // absolute lifetime; never extended by rotation
	RevokedAt        *time.Time
	RevokeReason     string
}

// Device code states (RFC 8628).
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceRedeemed = "redeemed"
)

// DeviceCode is a device authorization (RFC 8628 §3.2), found by the SHA-256
// of the device code or of the normalised user code.
type DeviceCode struct {
	Hash         []byte // SHA-256 of the device code; primary key
	UserCodeHash []byte // SHA-256 of the normalised user code; unique
	Tenant       string
	ClientID     string
	Scopes       []string
	Status       string // DevicePending, DeviceApproved, DeviceDenied, DeviceRedeemed
	UserID       string // set on approval
	SessionID    string
	AuthTime     time.Time
	Interval     time.Duration // current polling interval; slow_down raises it
	LastPolledAt time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// Session is a person's sign-in at keyshift's pages, found by the SHA-256
// of the session cookie.
type Session struct {
	Hash      []byte // SHA-256 of the cookie value; primary key
	ID        string // public id: sid claim, logout, code and family binding
	Tenant    string
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Consent remembers that a user granted a client a set of scopes; a later
// request for a subset of them needs no consent page.
type Consent struct {
	Tenant    string
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GrantReader holds the read methods for grant records.
type GrantReader interface {
	GetAuthCode(ctx context.Context, hash []byte) (AuthCode, error)
	GetRefreshFamily(ctx context.Context, id string) (RefreshFamily, error)
	// ListRefreshFamilies lists a user's families (revoked ones too) in
	// creation order; clientID "" means every client.
	ListRefreshFamilies(ctx context.Context, tenant, userID, clientID string) ([]RefreshFamily, error)
	GetDeviceCode(ctx context.Context, hash []byte) (DeviceCode, error)
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (DeviceCode, error)
	GetSession(ctx context.Context, hash []byte) (Session, error)
	// GetSessionByID finds a session by its public id.
	GetSessionByID(ctx context.Context, id string) (Session, error)
	// GetConsent returns the user's consent to the client.
	GetConsent(ctx context.Context, tenant, userID, clientID string) (Consent, error)
	// ListConsents lists a user's consents in client order.
	ListConsents(ctx context.Context, tenant, userID string) ([]Consent, error)
}

// GrantTx holds the write methods for grant records. Creating a record whose
// key exists fails with ErrAlreadyExists; updating or deleting a missing one
// with ErrNotFound. Records of a deleted tenant, user or client go with it.
type GrantTx interface {
	GrantReader

	CreateAuthCode(ctx context.Context, c AuthCode) error
	UpdateAuthCode(ctx context.Context, hash []byte, fn func(AuthCode) (AuthCode, error)) error

	CreateRefreshFamily(ctx context.Context, f RefreshFamily) error
	UpdateRefreshFamily(ctx context.Context, id string, fn func(RefreshFamily) (RefreshFamily, error)) error

	// CreateDeviceCode fails with ErrConflict when the user code is taken.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	UpdateDeviceCode(ctx context.Context, hash []byte, fn func(DeviceCode) (DeviceCode, error)) error

	CreateSession(ctx context.Context, s Session) error
	DeleteSession(ctx context.Context, hash []byte) error

	// PutConsent creates or replaces the user's consent to the client.
	PutConsent(ctx context.Context, c Consent) error
	DeleteConsent(ctx context.Context, tenant, userID, clientID string) error

	// UseClientAssertion records the jti of a client's JWT assertion
	// (RFC 7523 §3) until expiresAt; a jti already recorded for that client
	// and not expired fails with ErrAlreadyExists, so an assertion is
	// accepted once.
	UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error

	// DeleteExpiredGrants removes codes, families, device codes, sessions
	// and assertion ids that expired before now, returning how many.
	DeleteExpiredGrants(ctx context.Context, now time.Time) (int, error)
}
