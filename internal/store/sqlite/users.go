package sqlite

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

const userCols = `id, tenant, login, login_key, email, name, password_hash, roles,
	disabled, created_at, updated_at, password_changed_at`

// loginKey is the form of a login that uniqueness and look-ups compare.
func loginKey(login string) string { return strings.ToLower(login) }

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var key, roles, created, updated, pwChanged string
	err := sc.Scan(&u.ID, &u.Tenant, &u.Login, &key, &u.Email, &u.Name, &u.PasswordHash,
		&roles, &u.Disabled, &created, &updated, &pwChanged)
	if err != nil {
		return u, err
	}
	var d decoder
	u.Roles = d.strings(roles)
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = d.time(created), d.time(updated), d.time(pwChanged)
	if len(u.PasswordHash) == 0 {
		u.PasswordHash = nil
	}
	return u, d.err
}

func (r reader) GetUser(ctx context.Context, id string) (store.User, error) {
	return getOne(ctx, r.q, "user", id, scanUser,
		`SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

func (r reader) GetUserByLogin(ctx context.Context, tenant, login string) (store.User, error) {
	return getOne(ctx, r.q, "user", tenant+"/"+login, scanUser,
		`SELECT `+userCols+` FROM users WHERE tenant = ? AND login_key = ?`, tenant, loginKey(login))
}

func (r reader) ListUsers(ctx context.Context, tenant string) ([]store.User, error) {
	return list(ctx, r.q, "users", scanUser,
		`SELECT `+userCols+` FROM users WHERE tenant = ? ORDER BY login_key, id`, tenant)
}

// userArgs returns a user's columns in userCols order.
func userArgs(u store.User) ([]any, error) {
	roles, err := jsonText(u.Roles)
	if err != nil {
		return nil, err
	}
	return []any{u.ID, u.Tenant, u.Login, loginKey(u.Login), u.Email, u.Name,
		blob(u.PasswordHash), roles, u.Disabled, fmtTime(u.CreatedAt), fmtTime(u.UpdatedAt),
		fmtTime(u.PasswordChangedAt)}, nil
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
	args, err := userArgs(u)
	if err != nil {
		return userWriteErr("create", u, err)
	}
	_, err = t.exec(ctx, `INSERT INTO users (`+userCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return userWriteErr("create", u, err)
	}
	t.changed(store.ChangeUser, u.ID, u.Tenant)
	return nil
}

func (t *tx) UpdateUser(ctx context.Context, id string, fn func(store.User) (store.User, error)) error {
	old, err := t.GetUser(ctx, id)
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
	args, err := userArgs(u)
	if err != nil {
		return userWriteErr("update", u, err)
	}
	_, err = t.exec(ctx, `UPDATE users SET tenant = ?, login = ?, login_key = ?, email = ?,
		name = ?, password_hash = ?, roles = ?, disabled = ?, created_at = ?, updated_at = ?,
		password_changed_at = ? WHERE id = ?`, append(args[1:], id)...)
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
	var tenant string
	err := t.tx.QueryRowContext(ctx, `DELETE FROM users WHERE id = ? RETURNING tenant`, id).Scan(&tenant)
	if err != nil {
		return notFoundOr(err, "user", id)
	}
	t.changed(store.ChangeUser, id, tenant)
	return nil
}
