package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyshift/keyshift/internal/store"
)

var (
	_ store.UserReader = (*Store)(nil)
	_ store.UserTx     = (*tx)(nil)
)

const userCols = `id, tenant, login, email, name, password_hash, roles,
	disabled, created_at, updated_at, password_changed_at`

// loginKey is the form of a login that uniqueness and look-ups compare;
// it is computed in Go so both backends fold case identically.
func loginKey(login string) string { return strings.ToLower(login) }

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	err := sc.Scan(&u.ID, &u.Tenant, &u.Login, &u.Email, &u.Name, &u.PasswordHash,
		&u.Roles, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.PasswordChangedAt)
	u.Roles = nilIfEmpty(u.Roles)
	if len(u.PasswordHash) == 0 {
		u.PasswordHash = nil
	}
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), u.PasswordChangedAt.UTC()
	return u, err
}

func (r reader) GetUser(ctx context.Context, id string) (store.User, error) {
	return getOne(ctx, r.q, "user", id, scanUser,
		`SELECT `+userCols+` FROM users WHERE id = $1`, id)
}

func (r reader) GetUserByLogin(ctx context.Context, tenant, login string) (store.User, error) {
	return getOne(ctx, r.q, "user", tenant+"/"+login, scanUser,
		`SELECT `+userCols+` FROM users WHERE tenant = $1 AND login_key = $2`, tenant, loginKey(login))
}

func (r reader) ListUsers(ctx context.Context, tenant string) ([]store.User, error) {
	return list(ctx, r.q, "users", scanUser,
		`SELECT `+userCols+` FROM users WHERE tenant = $1 ORDER BY login_key, id`, tenant)
}

// userArgs returns a user's columns in userCols order, then login_key.
func userArgs(u store.User) []any {
	return []any{u.ID, u.Tenant, u.Login, u.Email, u.Name, blob(u.PasswordHash),
		strs(u.Roles), u.Disabled, u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt, loginKey(u.Login)}
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

func (t *tx) CreateUser(ctx context.Context, u store.User) error {
	t.stamp(&u.CreatedAt, &u.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO users (`+userCols+`, login_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, userArgs(u)...)
	if err != nil {
		return userWriteErr("create", u, err)
	}
	t.changed(store.ChangeUser, u.ID, u.Tenant)
	return nil
}

func (t *tx) UpdateUser(ctx context.Context, id string, fn func(store.User) (store.User, error)) error {
	old, err := getOne(ctx, t.q, "user", id, scanUser,
		`SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return err
	}
	u, err := fn(old)
	if err != nil {
		return err
	}
	if u.ID != id {
		return errIDChanged("user", id, u.ID)
	}
	t.restamp(old.UpdatedAt, &u.UpdatedAt)
	_, err = t.exec(ctx, `UPDATE users SET tenant = $2, login = $3, email = $4, name = $5,
		password_hash = $6, roles = $7, disabled = $8, created_at = $9, updated_at = $10,
		password_changed_at = $11, login_key = $12 WHERE id = $1`, userArgs(u)...)
	if err != nil {
		return userWriteErr("update", u, err)
	}
	if old.Tenant != u.Tenant {
		t.changed(store.ChangeUser, id, old.Tenant)
	}
	t.changed(store.ChangeUser, id, u.Tenant)
	return nil
}

func (t *tx) DeleteUser(ctx context.Context, id string) error {
	tenant, err := t.deleteReturning(ctx, "user", id,
		`DELETE FROM users WHERE id = $1 RETURNING tenant`)
	if err != nil {
		return err
	}
	t.changed(store.ChangeUser, id, tenant)
	return nil
}
