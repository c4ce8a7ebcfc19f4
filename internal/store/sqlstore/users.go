package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyshift/keyshift/internal/store"
)

const userCols = `id, tenant, login, email, name, password_hash, roles,
	disabled, created_at, updated_at, password_changed_at`

// loginKey is the form of a login that uniqueness and look-ups compare;
// it is computed in Go so both engines fold case identically.
func loginKey(login string) string { return strings.ToLower(login) }

func scanUser(d Dialect, sc Row) (store.User, error) {
	var u store.User
	err := sc.Scan(&u.ID, &u.Tenant, &u.Login, &u.Email, &u.Name, &u.PasswordHash,
		d.StringsDest(&u.Roles), &u.Disabled, d.TimeDest(&u.CreatedAt), d.TimeDest(&u.UpdatedAt),
		d.TimeDest(&u.PasswordChangedAt))
	u.Roles = nilIfEmpty(u.Roles)
	u.PasswordHash = nilIfEmpty(u.PasswordHash)
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), u.PasswordChangedAt.UTC()
	return u, err
}

// GetUser implements store.UserReader.
func (r Reader) GetUser(ctx context.Context, id string) (store.User, error) {
	return getOne(ctx, r.q, r.d, "user", id, scanUser,
		`SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

// GetUserByLogin implements store.UserReader.
func (r Reader) GetUserByLogin(ctx context.Context, tenant, login string) (store.User, error) {
	return getOne(ctx, r.q, r.d, "user", tenant+"/"+login, scanUser,
		`SELECT `+userCols+` FROM users WHERE tenant = ? AND login_key = ?`, tenant, loginKey(login))
}

// ListUsers implements store.UserReader.
func (r Reader) ListUsers(ctx context.Context, tenant string) ([]store.User, error) {
	return list(ctx, r.q, r.d, "users", scanUser,
		`SELECT `+userCols+` FROM users WHERE tenant = ? ORDER BY login_key, id`, tenant)
}

// userArgs returns a user's columns in userCols order, then login_key.
func userArgs(d Dialect, u store.User) ([]any, error) {
	roles, err := d.Strings(u.Roles)
	if err != nil {
		return nil, err
	}
	return []any{u.ID, u.Tenant, u.Login, u.Email, u.Name, blob(u.PasswordHash),
		roles, u.Disabled, d.Time(u.CreatedAt), d.Time(u.UpdatedAt), d.Time(u.PasswordChangedAt),
		loginKey(u.Login)}, nil
}

// userWriteErr explains a failed user write; it never shows the hash.
func userWriteErr(op string, u store.User, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s user %q: tenant %q: %w", op, u.ID, u.Tenant, store.ErrNotFound)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%s user %q: login %q taken in tenant %q: %w", op, u.ID, u.Login, u.Tenant, store.ErrConflict)
	case errors.Is(err, store.ErrAlreadyExists):
		return fmt.Errorf("%s user %q: %w", op, u.ID, store.ErrAlreadyExists)
	}
	return fmt.Errorf("%s user %q: %w", op, u.ID, err)
}

// CreateUser implements store.UserTx.
func (t *Writer) CreateUser(ctx context.Context, u store.User) error {
	t.stamp(&u.CreatedAt, &u.UpdatedAt)
	args, err := userArgs(t.d, u)
	if err != nil {
		return userWriteErr("create", u, err)
	}
	_, err = t.exec(ctx, `INSERT INTO users (`+userCols+`, login_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return userWriteErr("create", u, err)
	}
	t.Changed(store.ChangeUser, u.ID, u.Tenant)
	return nil
}

// UpdateUser implements store.UserTx.
func (t *Writer) UpdateUser(ctx context.Context, id string, fn func(store.User) (store.User, error)) error {
	old, u, err := modify(ctx, t, "user", id, scanUser,
		`SELECT `+userCols+` FROM users WHERE id = ?`,
		func(v store.User) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	t.restamp(old.UpdatedAt, &u.UpdatedAt)
	args, err := userArgs(t.d, u)
	if err != nil {
		return userWriteErr("update", u, err)
	}
	_, err = t.exec(ctx, `UPDATE users SET tenant = ?, login = ?, email = ?, name = ?,
		password_hash = ?, roles = ?, disabled = ?, created_at = ?, updated_at = ?,
		password_changed_at = ?, login_key = ? WHERE id = ?`, append(args[1:], id)...)
	if err != nil {
		return userWriteErr("update", u, err)
	}
	if old.Tenant != u.Tenant {
		t.Changed(store.ChangeUser, id, old.Tenant)
	}
	t.Changed(store.ChangeUser, id, u.Tenant)
	return nil
}

// DeleteUser implements store.UserTx.
func (t *Writer) DeleteUser(ctx context.Context, id string) error {
	tenant, err := t.deleteReturning(ctx, "user", id,
		`DELETE FROM users WHERE id = ? RETURNING tenant`, id)
	if err != nil {
		return err
	}
	t.Changed(store.ChangeUser, id, tenant)
	return nil
}
