package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var userTests = []test{
	{"CreateGet_RoundTripsEveryField", testUserRoundTrip},
	{"Create_DuplicateID_AlreadyExists", testUserDuplicateID},
	{"Create_LoginTakenInTenant_Conflict", testUserLoginConflict},
	{"Create_SameLoginOtherTenant_Allowed", testUserLoginOtherTenant},
	{"Create_MissingTenant_NotFound", testUserMissingTenant},
	{"GetByLogin_IgnoresCase", testUserByLoginCase},
	{"List_OneTenantInLoginOrder", testUserList},
	{"Update_WritesFnResult", testUserUpdate},
	{"Update_LoginToTakenOne_Conflict", testUserUpdateConflict},
	{"Update_FnError_NothingWritten", testUserUpdateFnError},
	{"Update_Missing_NotFound", testUserUpdateMissing},
	{"Delete_RemovesIt", testUserDelete},
	{"DeleteTenant_CascadesAndPublishes", testUserTenantCascade},
	{"Changes_Published", testUserChanges},
}

func newUser(id, tenant, login string) store.User {
	return store.User{
		ID: id, Tenant: tenant, Login: login, Email: login + "@example.com", Name: "User " + id,
		PasswordHash: []byte("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"),
		Roles:        []string{store.RoleAdmin}, Disabled: true,
		CreatedAt: at(0), UpdatedAt: at(time.Second), PasswordChangedAt: at(2 * time.Second),
	}
}

func normUser(u store.User) store.User {
	u.Roles, u.PasswordHash = strs(u.Roles), bytesOrNil(u.PasswordHash)
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = utc(u.CreatedAt), utc(u.UpdatedAt), utc(u.PasswordChangedAt)
	return u
}

func createUsers(t *testing.T, s store.Store, users ...store.User) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	want := newUser("u1", "acme", "Ada")
	createUsers(t, s, want)
	got, err := s.GetUser(t.Context(), "u1")
	noErr(t, "GetUser", err)
	checkUTC(t, "GetUser", got.CreatedAt, got.UpdatedAt, got.PasswordChangedAt)
	equal(t, "GetUser", got, want, normUser)
}

func testUserDuplicateID(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createUsers(t, s, newUser("u1", "acme", "ada"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, newUser("u1", "acme", "bob"))
	})
	wantErr(t, "CreateUser twice", err, store.ErrAlreadyExists)
}

func testUserLoginConflict(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createUsers(t, s, newUser("u1", "acme", "ada"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, newUser("u2", "acme", "ADA"))
	})
	wantErr(t, "CreateUser with a login differing in case", err, store.ErrConflict)
}

func testUserLoginOtherTenant(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createUsers(t, s, newUser("u1", "acme", "ada"), newUser("u2", "other", "ada"))
	u, err := s.GetUserByLogin(t.Context(), "other", "ada")
	noErr(t, "GetUserByLogin", err)
	if u.ID != "u2" {
		t.Fatalf("GetUserByLogin(other, ada) = %q, want u2", u.ID)
	}
}

func testUserMissingTenant(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, newUser("u1", "nope", "ada"))
	})
	wantErr(t, "CreateUser in a missing tenant", err, store.ErrNotFound)
}

func testUserByLoginCase(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createUsers(t, s, newUser("u1", "acme", "Ada.Lovelace"))
	for _, login := range []string{"Ada.Lovelace", "ada.lovelace", "ADA.LOVELACE"} {
		u, err := s.GetUserByLogin(t.Context(), "acme", login)
		noErr(t, "GetUserByLogin "+login, err)
		if u.ID != "u1" || u.Login != "Ada.Lovelace" {
			t.Fatalf("GetUserByLogin(%q) = %q/%q, want u1 with the login as written", login, u.ID, u.Login)
		}
	}
	_, err := s.GetUserByLogin(t.Context(), "other", "ada.lovelace")
	wantErr(t, "GetUserByLogin in another tenant", err, store.ErrNotFound)
}

func testUserList(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createUsers(t, s, newUser("u1", "acme", "carol"), newUser("u2", "acme", "Bob"),
		newUser("u3", "other", "alice"), newUser("u4", "acme", "ada"))
	got, err := s.ListUsers(t.Context(), "acme")
	noErr(t, "ListUsers", err)
	var ids []string
	for _, u := range got {
		ids = append(ids, u.ID)
	}
	if want := []string{"u4", "u2", "u1"}; !equalStrings(ids, want) {
		t.Fatalf("ListUsers(acme) = %v, want %v", ids, want)
	}
	none, err := s.ListUsers(t.Context(), "nope")
	noErr(t, "ListUsers of an unknown tenant", err)
	if len(none) != 0 {
		t.Fatalf("ListUsers(nope) = %v, want none", none)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testUserUpdate(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createUsers(t, s, newUser("u1", "acme", "ada"))
	var want store.User
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) {
			u.Login, u.Email, u.Name, u.Roles, u.Disabled = "Ada2", "new@example.com", "Ada", nil, false
			u.PasswordHash, u.PasswordChangedAt, u.UpdatedAt = []byte("$argon2id$new"), at(time.Hour), at(time.Hour)
			want = u
			return u, nil
		})
	})
	got, err := s.GetUserByLogin(t.Context(), "acme", "ada2")
	noErr(t, "GetUserByLogin after update", err)
	equal(t, "updated user", got, want, normUser)
	_, err = s.GetUserByLogin(t.Context(), "acme", "ada")
	wantErr(t, "GetUserByLogin of the old login", err, store.ErrNotFound)
}

func testUserUpdateConflict(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createUsers(t, s, newUser("u1", "acme", "ada"), newUser("u2", "acme", "bob"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, "u2", func(u store.User) (store.User, error) {
			u.Login = "Ada"
			return u, nil
		})
	})
	wantErr(t, "UpdateUser to a taken login", err, store.ErrConflict)
}

func testUserUpdateFnError(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	want := newUser("u1", "acme", "ada")
	createUsers(t, s, want)
	boom := errors.New("boom")
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) {
			u.Name = "changed"
			return u, boom
		})
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateUser error = %v, want fn's error", err)
	}
	got, err := s.GetUser(t.Context(), "u1")
	noErr(t, "GetUser", err)
	equal(t, "user after failed update", got, want, normUser)
}

func testUserUpdateMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, "nope", func(u store.User) (store.User, error) { return u, nil })
	})
	wantErr(t, "UpdateUser of a missing user", err, store.ErrNotFound)
}

func testUserDelete(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createUsers(t, s, newUser("u1", "acme", "ada"))
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, "u1") })
	_, err := s.GetUser(t.Context(), "u1")
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, "u1") })
	wantErr(t, "DeleteUser twice", err, store.ErrNotFound)
	// The login is free again.
	createUsers(t, s, newUser("u2", "acme", "ada"))
}

func testUserTenantCascade(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createUsers(t, s, newUser("u1", "acme", "ada"), newUser("u2", "other", "ada"))
	changes := s.Subscribe(t.Context())
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	expectChangeSet(t, changes,
		store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"},
		store.Change{Kind: store.ChangeUser, ID: "u1", Tenant: "acme"})
	_, err := s.GetUser(t.Context(), "u1")
	wantErr(t, "GetUser of a deleted tenant", err, store.ErrNotFound)
	_, err = s.GetUser(t.Context(), "u2")
	noErr(t, "GetUser of the other tenant", err)
}

func testUserChanges(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	changes := s.Subscribe(t.Context())
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(
			tx.CreateUser(ctx, newUser("u1", "acme", "ada")),
			tx.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) { return u, nil }),
			tx.DeleteUser(ctx, "u1"),
		)
	})
	u1 := store.Change{Kind: store.ChangeUser, ID: "u1", Tenant: "acme"}
	expectChanges(t, changes, u1, u1, u1)
}
