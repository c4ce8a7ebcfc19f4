package store

import (
	"context"
	"time"
)

// ChangeUser is the change kind of users.
const ChangeUser ChangeKind = "user"

// RoleAdmin makes a user an admin of their tenant; admins of the platform
// tenant are operators.
const RoleAdmin = "admin"

// User is a person who signs in to a tenant.
type User struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Login is unique per tenant, compared case-insensitively.
	Login string `json:"login"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// PasswordHash is a PHC string of an argon2id hash; never serialised.
	PasswordHash      []byte    `json:"-"`
	Roles             []string  `json:"roles,omitempty"`
	Disabled          bool      `json:"disabled"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
}

// UserReader holds the read methods for users.
type UserReader interface {
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByLogin finds a tenant's user by login, ignoring case.
	GetUserByLogin(ctx context.Context, tenant, login string) (User, error)
	// ListUsers lists one tenant's users in login order.
	ListUsers(ctx context.Context, tenant string) ([]User, error)
}

// UserTx holds the write methods for users. A login already taken in the
// tenant (in any case) fails with ErrConflict.
type UserTx interface {
	UserReader

	CreateUser(ctx context.Context, u User) error
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error)) error
	DeleteUser(ctx context.Context, id string) error
}
