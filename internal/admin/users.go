package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/password"
	"github.com/keyshift/keyshift/internal/store"
)

const (
	userIDPrefix = "usr_"
	userIDLen    = 20
	maxUserRoles = 10
)

// userLoginPattern admits plain logins and email-shaped ones: letters,
// digits and . _ @ + -, starting with a letter or digit.
var userLoginPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)

// CreateUserRequest is the body of POST /admin/v1/tenants/{tenant}/users.
// Without a password, one is generated and returned once.
type CreateUserRequest struct {
	Login    string   `json:"login"`
	Email    string   `json:"email,omitempty"`
	Name     string   `json:"name,omitempty"`
	Password *string  `json:"password,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

// UpdateUserRequest is the body of PATCH
// /admin/v1/tenants/{tenant}/users/{id}; nil fields stay unchanged.
type UpdateUserRequest struct {
	Email    *string   `json:"email,omitempty"`
	Name     *string   `json:"name,omitempty"`
	Roles    *[]string `json:"roles,omitempty"`
	Disabled *bool     `json:"disabled,omitempty"`
}

// SetPasswordRequest is the body of POST
// /admin/v1/tenants/{tenant}/users/{id}/password. Without a password, one
// is generated and returned once.
type SetPasswordRequest struct {
	Password *string `json:"password,omitempty"`
}

// UserView is a user as the API shows it: never the password or its hash.
type UserView struct {
	ID                string     `json:"id"`
	Tenant            string     `json:"tenant"`
	Login             string     `json:"login"`
	Email             string     `json:"email"`
	Name              string     `json:"name"`
	Roles             []string   `json:"roles"`
	Disabled          bool       `json:"disabled"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	PasswordChangedAt *time.Time `json:"password_changed_at,omitempty"`
}

// UserWithPassword is the answer of a creation or password reset: the user
// and, only when keyshift generated it, the password, this once.
type UserWithPassword struct {
	UserView
	Password string `json:"password,omitempty"`
}

// UserList is the answer of GET /admin/v1/tenants/{tenant}/users.
type UserList struct {
	Users []UserView `json:"users"`
}

// NewUserView converts a stored user to its API view.
func NewUserView(u store.User) UserView {
	v := UserView{
		ID: u.ID, Tenant: u.Tenant, Login: u.Login, Email: u.Email, Name: u.Name,
		Roles: nonNil(slices.Clone(u.Roles)), Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if !u.PasswordChangedAt.IsZero() {
		t := u.PasswordChangedAt
		v.PasswordChangedAt = &t
	}
	return v
}

// errUserLoginTaken is the answer to a login another user of the tenant
// has, in any case.
func errUserLoginTaken() *Problem {
	p := errConflict("Login has already been taken", "another user of this tenant has the same login (compared ignoring case)")
	p.Errors = []FieldError{{Field: "login", Message: "has already been taken"}}
	return p
}

// CreateUser creates a user of tenant. The password, given or generated,
// is hashed before the transaction: argon2id takes tens of milliseconds
// and must not hold a write transaction open.
func (a *API) CreateUser(ctx context.Context, p Principal, tenant string, req CreateUserRequest) (UserWithPassword, error) {
	if !p.canSeeTenant(tenant) {
		return UserWithPassword{}, errNotFound("tenant")
	}
	var v validation
	checkUserLogin(&v, req.Login)
	checkEmail(&v, "email", req.Email)
	checkText(&v, "name", req.Name, maxNameLen, false)
	checkUserRoles(&v, p, tenant, req.Roles)
	generated := req.Password == nil
	pw := ""
	if generated {
		pw = password.Generate()
	} else {
		pw = *req.Password
		a.checkPassword(&v, pw, req.Login, req.Email)
	}
	if err := v.err(); err != nil {
		return UserWithPassword{}, err
	}
	// A cheap early answer for a taken login saves a hash; the store's
	// uniqueness rule still decides inside the transaction.
	if _, err := a.st.GetUserByLogin(ctx, tenant, req.Login); err == nil {
		return UserWithPassword{}, errUserLoginTaken()
	}
	hash, err := a.pw.Hash(pw)
	if err != nil {
		return UserWithPassword{}, fmt.Errorf("hash password: %w", err)
	}
	now := a.clock()
	u := store.User{
		ID: credential.ID(userIDPrefix, userIDLen), Tenant: tenant, Login: req.Login, Email: req.Email, Name: req.Name,
		PasswordHash: hash, Roles: nonNil(slices.Clone(req.Roles)), CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now,
	}
	err = a.st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.GetTenant(ctx, tenant); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errNotFound("tenant")
			}
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "user.create", "user", u.ID, details(
			"login", u.Login, "roles", u.Roles, "password_generated", generated)))
	})
	if errors.Is(err, store.ErrConflict) {
		return UserWithPassword{}, errUserLoginTaken()
	}
	if err != nil {
		return UserWithPassword{}, fmt.Errorf("create user in %s: %w", tenant, err)
	}
	out := UserWithPassword{UserView: NewUserView(u)}
	if generated {
		out.Password = pw
	}
	return out, nil
}

// ListUsers lists the users of tenant in login order.
func (a *API) ListUsers(ctx context.Context, p Principal, tenant string) ([]UserView, error) {
	if _, err := a.GetTenant(ctx, p, tenant); err != nil {
		return nil, err
	}
	us, err := a.st.ListUsers(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list users of %s: %w", tenant, err)
	}
	out := make([]UserView, 0, len(us))
	for _, u := range us {
		out = append(out, NewUserView(u))
	}
	return out, nil
}

// GetUser returns one user of tenant.
func (a *API) GetUser(ctx context.Context, p Principal, tenant, id string) (UserView, error) {
	u, err := getTenantUser(ctx, a.st, p, tenant, id)
	if err != nil {
		return UserView{}, err
	}
	return NewUserView(u), nil
}

// getTenantUser loads user id and checks that it belongs to tenant and that
// p may see that tenant; anything else is the same 404.
func getTenantUser(ctx context.Context, r store.Reader, p Principal, tenant, id string) (store.User, error) {
	if !p.canSeeTenant(tenant) {
		return store.User{}, errNotFound("tenant")
	}
	u, err := r.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Tenant != tenant) {
		return store.User{}, errNotFound("user")
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return u, nil
}

// guardOperatorUser refuses a change to an admin of the platform tenant (an
// operator) by anyone but an operator: resetting its password would hand
// out operator rights.
func guardOperatorUser(p Principal, u store.User) error {
	if u.Tenant == store.PlatformTenant && slices.Contains(u.Roles, store.RoleAdmin) && !p.IsOperator() {
		return errForbidden("only operators change admins of the platform tenant")
	}
	return nil
}

// UpdateUser changes a user's email, name, roles or disabled flag.
func (a *API) UpdateUser(ctx context.Context, p Principal, tenant, id string, req UpdateUserRequest) (UserView, error) {
	if !p.canSeeTenant(tenant) {
		return UserView{}, errNotFound("tenant")
	}
	var v validation
	if req.Email != nil {
		checkEmail(&v, "email", *req.Email)
	}
	if req.Name != nil {
		checkText(&v, "name", *req.Name, maxNameLen, false)
	}
	if req.Roles != nil {
		checkUserRoles(&v, p, tenant, *req.Roles)
	}
	if req == (UpdateUserRequest{}) {
		v.add("", "nothing to change: give email, name, roles or disabled")
	}
	if err := v.err(); err != nil {
		return UserView{}, err
	}
	var out store.User
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		u, err := getTenantUser(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardOperatorUser(p, u); err != nil {
			return err
		}
		err = tx.UpdateUser(ctx, id, func(u store.User) (store.User, error) {
			if req.Email != nil {
				u.Email = *req.Email
			}
			if req.Name != nil {
				u.Name = *req.Name
			}
			if req.Roles != nil {
				u.Roles = nonNil(slices.Clone(*req.Roles))
			}
			if req.Disabled != nil {
				u.Disabled = *req.Disabled
			}
			u.UpdatedAt = a.clock()
			out = u
			return u, nil
		})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "user.update", "user", id, userUpdateDetails(u.Login, req)))
	})
	if err != nil {
		return UserView{}, fmt.Errorf("update user %s: %w", id, err)
	}
	return NewUserView(out), nil
}

// userUpdateDetails records what a PATCH changed. Email and name are
// personal data and are only named, not copied.
func userUpdateDetails(login string, req UpdateUserRequest) []byte {
	var changed []string
	if req.Email != nil {
		changed = append(changed, "email")
	}
	if req.Name != nil {
		changed = append(changed, "name")
	}
	var personal any
	if len(changed) > 0 {
		personal = changed
	}
	return details("login", login, "roles", req.Roles, "disabled", req.Disabled, "changed", personal)
}

// SetUserPassword replaces a user's password with the given one or, when
// none is given, a generated one that the answer shows once.
func (a *API) SetUserPassword(ctx context.Context, p Principal, tenant, id string, req SetPasswordRequest) (UserWithPassword, error) {
	u, err := getTenantUser(ctx, a.st, p, tenant, id)
	if err != nil {
		return UserWithPassword{}, err
	}
	if err := guardOperatorUser(p, u); err != nil {
		return UserWithPassword{}, err
	}
	generated := req.Password == nil
	pw := password.Generate()
	if !generated {
		pw = *req.Password
		var v validation
		a.checkPassword(&v, pw, u.Login, u.Email)
		if err := v.err(); err != nil {
			return UserWithPassword{}, err
		}
	}
	hash, err := a.pw.Hash(pw)
	if err != nil {
		return UserWithPassword{}, fmt.Errorf("hash password: %w", err)
	}
	var out store.User
	err = a.st.Tx(ctx, func(tx store.Tx) error {
		// Checked again: the user may have changed while the hash ran.
		u, err := getTenantUser(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardOperatorUser(p, u); err != nil {
			return err
		}
		err = tx.UpdateUser(ctx, id, func(u store.User) (store.User, error) {
			now := a.clock()
			u.PasswordHash, u.PasswordChangedAt, u.UpdatedAt = hash, now, now
			out = u
			return u, nil
		})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "user.password_reset", "user", id, details(
			"login", u.Login, "password_generated", generated)))
	})
	if err != nil {
		return UserWithPassword{}, fmt.Errorf("set password of user %s: %w", id, err)
	}
	resp := UserWithPassword{UserView: NewUserView(out)}
	if generated {
		resp.Password = pw
	}
	return resp, nil
}

// DeleteUser deletes a user.
func (a *API) DeleteUser(ctx context.Context, p Principal, tenant, id string) error {
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		u, err := getTenantUser(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardOperatorUser(p, u); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, id); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "user.delete", "user", id, details("login", u.Login)))
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}

func checkUserLogin(v *validation, login string) {
	switch {
	case login == "":
		v.add("login", "is required")
	case len(login) > maxLoginLen || !userLoginPattern.MatchString(login):
		v.add("login", fmt.Sprintf("must be 1 to %d letters, digits or . _ @ + -, starting with a letter or digit", maxLoginLen))
	}
}

// checkUserRoles allows only "admin", once. An admin of the platform tenant
// is an operator, so only operators make one.
func checkUserRoles(v *validation, p Principal, tenant string, roles []string) {
	if len(roles) > maxUserRoles {
		v.add("roles", "too many roles")
		return
	}
	for i, r := range roles {
		field := fmt.Sprintf("roles[%d]", i)
		switch {
		case r != store.RoleAdmin:
			v.add(field, `unknown role; the only role is "admin"`)
		case tenant == store.PlatformTenant && !p.IsOperator():
			v.add(field, "only operators make admins of the platform tenant (operators)")
		}
	}
	if hasDuplicates(roles) {
		v.add("roles", "must not repeat a role")
	}
}

// checkPassword applies the password policy; the message never holds the
// password.
func (a *API) checkPassword(v *validation, pw string, identifiers ...string) {
	if err := a.policy.Check(pw, identifiers...); err != nil {
		v.add("password", err.Error())
	}
}

func (a *API) handleCreateUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req CreateUserRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	resp, err := a.CreateUser(r.Context(), p, tenant, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+tenant+"/users/"+resp.ID)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (a *API) handleListUsers(w http.ResponseWriter, r *http.Request, p Principal) error {
	us, err := a.ListUsers(r.Context(), p, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, UserList{Users: us})
	return nil
}

func (a *API) handleGetUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	u, err := a.GetUser(r.Context(), p, r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) handleUpdateUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req UpdateUserRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	u, err := a.UpdateUser(r.Context(), p, tenant, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) handleSetUserPassword(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req SetPasswordRequest
	if err := a.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	resp, err := a.SetUserPassword(r.Context(), p, tenant, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) handleDeleteUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.DeleteUser(r.Context(), p, r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
