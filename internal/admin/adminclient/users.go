package adminclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/keyshift/keyshift/internal/admin"
)

func usersPath(tenant string) string { return "/tenants/" + url.PathEscape(tenant) + "/users" }

func userPath(tenant, id string) string { return usersPath(tenant) + "/" + url.PathEscape(id) }

// ListUsers lists a tenant's users.
func (c *Client) ListUsers(ctx context.Context, tenant string) ([]admin.UserView, error) {
	var out admin.UserList
	return out.Users, c.do(ctx, http.MethodGet, usersPath(tenant), nil, &out)
}

// CreateUser creates a user; a generated password is in the answer.
func (c *Client) CreateUser(ctx context.Context, tenant string, req admin.CreateUserRequest) (admin.UserWithPassword, error) {
	var out admin.UserWithPassword
	return out, c.do(ctx, http.MethodPost, usersPath(tenant), req, &out)
}

// GetUser returns one user.
func (c *Client) GetUser(ctx context.Context, tenant, id string) (admin.UserView, error) {
	var out admin.UserView
	return out, c.do(ctx, http.MethodGet, userPath(tenant, id), nil, &out)
}

// UpdateUser changes some fields of a user.
func (c *Client) UpdateUser(ctx context.Context, tenant, id string, req admin.UpdateUserRequest) (admin.UserView, error) {
	var out admin.UserView
	return out, c.do(ctx, http.MethodPatch, userPath(tenant, id), req, &out)
}

// SetUserPassword sets or resets a user's password; a generated password
// is in the answer.
func (c *Client) SetUserPassword(ctx context.Context, tenant, id string, req admin.SetPasswordRequest) (admin.UserWithPassword, error) {
	var out admin.UserWithPassword
	return out, c.do(ctx, http.MethodPost, userPath(tenant, id)+"/password", req, &out)
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, tenant, id string) error {
	return c.do(ctx, http.MethodDelete, userPath(tenant, id), nil, nil)
}
