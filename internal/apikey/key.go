package apikey

import (
	"errors"
	"fmt"
	"net/mail"
	"time"
)

// Owner says who created a key and therefore who may retire it.
type Owner string

// Owners of keys.
const (
	// OwnerTenant keys were created by a tenant for its integrations; the
	// timeline retires them.
	OwnerTenant Owner = "tenant"
	// OwnerPlatform keys belong to the platform itself (its SFTP loader, its
	// mobile app). The timeline never refuses them and tenant admins can
	// neither disable nor revoke them.
	OwnerPlatform Owner = "platform"
)

// Status is the lifecycle state of a key.
type Status string

// Statuses of keys. Disabling is reversible and is how a tenant says an
// integration has moved; revoking is final.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
	StatusRevoked  Status = "revoked"
)

// Contact is the person responsible for a key. Its fields and JSON names match
// store.Contact, so one converts to the other with a type conversion.
type Contact struct {
	Login     string `json:"login,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
}

// Key is a legacy API key. The secret itself is never part of it: the store
// keeps Hash(secret) next to the record.
type Key struct {
	ID          string  `json:"key_id"`
	Tenant      string  `json:"tenant"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Contact     Contact `json:"contact"`
	// Permissions are `object:action` pairs; none means every API, as the
	// legacy systems had it.
	Permissions []string `json:"permissions"`
	// ExpiresAt is midnight UTC of the expiry date, or nil for no expiry.
	ExpiresAt *time.Time `json:"expires_at"`
	Owner     Owner      `json:"owner"`
	// Purpose names what a platform key is for, e.g. "sftp-loader".
	Purpose string `json:"purpose,omitempty"`
	Status  Status `json:"status"`
	// ConvertedToClient is the OAuth client created from this key, if any.
	ConvertedToClient string     `json:"converted_to_client,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	LastUsedAt        *time.Time `json:"last_used_at"`
}

// TenantInfo is what the timeline needs to know about a tenant.
type TenantInfo struct {
	ID string
	// CreatedAt decides whether the tenant is new (created after
	// tenant_oauth_only_after). A zero time counts as an existing tenant:
	// tenants imported without a date predate the transition.
	CreatedAt time.Time
}

// AllAPIs reports whether the key grants every API (no permission listed).
func (k Key) AllAPIs() bool { return len(k.Permissions) == 0 }

// Allows reports whether the key grants every permission in required. It does
// not allocate; keys hold a handful of permissions, so a scan beats a map.
func (k Key) Allows(required []string) bool {
	if k.AllAPIs() {
		return true
	}
	for _, r := range required {
		found := false
		for _, p := range k.Permissions {
			if p == r {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// MidnightUTC returns midnight UTC at the start of t's calendar date, read in
// t's own location: "2026-03-01T18:00:00-08:00" becomes 2026-03-01T00:00:00Z,
// the date the person typed, not the UTC date of that instant.
func MidnightUTC(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDate parses an expiry date given as "2006-01-02" or RFC 3339 and
// returns midnight UTC of that date.
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse date %q: want YYYY-MM-DD or RFC 3339", s)
	}
	return MidnightUTC(t), nil
}

// ValidatePermission checks the `object:action` shape of a permission:
// lower-case letters, digits, '_' and '-' on both sides of one colon, e.g.
// "invoices:read" or "purchase_orders:approve".
func ValidatePermission(p string) error {
	colon := -1
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == ':' && colon < 0:
			colon = i
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return fmt.Errorf("permission %q: want object:action in lower case letters, digits, '_' or '-'", p)
		}
	}
	if colon <= 0 || colon == len(p)-1 {
		return fmt.Errorf("permission %q: want object:action", p)
	}
	return nil
}

// Validate checks a key record before it is stored and returns every problem
// found, joined. It does not check uniqueness (contact login per tenant),
// which only the store can.
func (k Key) Validate() error {
	var errs []error
	if k.Tenant == "" {
		errs = append(errs, errors.New("tenant is required"))
	}
	if k.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	switch k.Owner {
	case OwnerTenant:
	case OwnerPlatform:
		if k.Purpose == "" {
			errs = append(errs, errors.New("purpose is required for a platform-owned key"))
		}
	default:
		errs = append(errs, fmt.Errorf("owner %q: want %q or %q", k.Owner, OwnerTenant, OwnerPlatform))
	}
	switch k.Status {
	case StatusActive, StatusDisabled, StatusRevoked:
	default:
		errs = append(errs, fmt.Errorf("status %q: want active, disabled or revoked", k.Status))
	}
	seen := make(map[string]bool, len(k.Permissions))
	for _, p := range k.Permissions {
		if err := ValidatePermission(p); err != nil {
			errs = append(errs, err)
		} else if seen[p] {
			errs = append(errs, fmt.Errorf("permission %q is listed twice", p))
		}
		seen[p] = true
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.Equal(MidnightUTC(k.ExpiresAt.UTC())) {
		errs = append(errs, fmt.Errorf("expires_at %s: want midnight UTC", k.ExpiresAt.Format(time.RFC3339)))
	}
	if k.Contact.Email != "" {
		if a, err := mail.ParseAddress(k.Contact.Email); err != nil || a.Address != k.Contact.Email {
			errs = append(errs, fmt.Errorf("contact email %q is not a plain address", k.Contact.Email))
		}
	}
	return errors.Join(errs...)
}
