package admincli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/password"
	"github.com/keyshift/keyshift/internal/store"
)

// setupUsers starts a stack with tenant acme and an operator profile.
func setupUsers(t *testing.T) *admintest.Stack {
	t.Helper()
	s := setup(t)
	if _, err := s.API.CreateTenant(context.Background(), admin.SystemPrincipal(), admin.CreateTenantRequest{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// storedUser finds a user of acme by login in the store.
func storedUser(t *testing.T, s *admintest.Stack, login string) store.User {
	t.Helper()
	u, err := s.Store.GetUserByLogin(context.Background(), "acme", login)
	if err != nil {
		t.Fatalf("user %s: %v", login, err)
	}
	return u
}

// verifies reports whether pw matches the user's stored hash.
func verifies(t *testing.T, u store.User, pw string) bool {
	t.Helper()
	h, err := password.New(password.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := h.Verify(u.PasswordHash, pw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return ok
}

func TestUsersCreate_GeneratedPassword_PrintedOnceAndVerifies(t *testing.T) {
	s := setupUsers(t)
	r := run(t, "", "users", "create", "acme", "--login", "ada", "--email", "ada@acme.example", "--name", "Ada", "--admin", "--json")
	if r.err != nil {
		t.Fatalf("create: %v", r.err)
	}
	var got admin.UserWithPassword
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	if got.Password == "" || got.Login != "ada" || len(got.Roles) != 1 || got.Roles[0] != "admin" {
		t.Fatalf("created = %+v", got)
	}
	if !strings.Contains(r.stderr, "shown only now") {
		t.Errorf("stderr = %q, want the shown-once warning", r.stderr)
	}
	if !verifies(t, storedUser(t, s, "ada"), got.Password) {
		t.Fatal("the printed password does not verify")
	}
	for _, args := range [][]string{
		{"users", "list", "acme"},
		{"users", "list", "acme", "-o", "json"},
		{"users", "get", "acme", "ADA"},
		{"users", "show", "acme", got.ID, "--json"},
	} {
		out := mustRun(t, args...)
		if !strings.Contains(out, got.ID) || strings.Contains(out, got.Password) || strings.Contains(out, "argon2") {
			t.Errorf("%v: %s", args, out)
		}
	}
}

func TestUsersCreate_PasswordStdin_NotPrinted(t *testing.T) {
	s := setupUsers(t)
	const pw = "  a passphrase with spaces  "
	r := run(t, pw+"\r\n", "users", "create", "acme", "--login", "grace", "--password-stdin")
	if r.err != nil {
		t.Fatalf("create: %v", r.err)
	}
	if strings.Contains(r.stdout, "password:") || strings.Contains(r.stdout, strings.TrimSpace(pw)) || strings.Contains(r.stderr, "shown only now") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
	u := storedUser(t, s, "grace")
	if !verifies(t, u, pw) || verifies(t, u, strings.TrimSpace(pw)) {
		t.Fatal("the stored password is not exactly the stdin line")
	}
}

func TestUsers_Lifecycle(t *testing.T) {
	s := setupUsers(t)
	mustRun(t, "users", "create", "acme", "--login", "ada")

	mustRun(t, "users", "disable", "acme", "ada")
	if !storedUser(t, s, "ada").Disabled {
		t.Fatal("disable did not disable")
	}
	out := mustRun(t, "users", "enable", "acme", "ada")
	if storedUser(t, s, "ada").Disabled || !strings.Contains(out, "active") {
		t.Fatalf("enable: %s", out)
	}
	mustRun(t, "users", "update", "acme", "ada", "--admin", "--email", "ada@acme.example")
	if u := storedUser(t, s, "ada"); len(u.Roles) != 1 || u.Email != "ada@acme.example" {
		t.Fatalf("update: %+v", u)
	}

	r := run(t, "", "users", "reset-password", "acme", "ada", "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var reset admin.UserWithPassword
	if err := json.Unmarshal([]byte(r.stdout), &reset); err != nil || reset.Password == "" {
		t.Fatalf("reset output %q: %v", r.stdout, err)
	}
	if !verifies(t, storedUser(t, s, "ada"), reset.Password) {
		t.Fatal("the reset password does not verify")
	}

	const chosen = "my own new passphrase"
	if r := run(t, chosen+"\n", "users", "reset-password", "acme", "ada", "--password-stdin"); r.err != nil || strings.Contains(r.stdout, chosen) {
		t.Fatalf("reset from stdin: %v, %s", r.err, r.stdout)
	}
	if u := storedUser(t, s, "ada"); !verifies(t, u, chosen) || verifies(t, u, reset.Password) {
		t.Fatal("the stdin password did not replace the generated one")
	}

	mustRun(t, "users", "delete", "acme", "ada", "--yes")
	if _, err := s.Store.GetUserByLogin(context.Background(), "acme", "ada"); err == nil {
		t.Fatal("the user still exists")
	}
}

func TestUsers_Refusals_OneLineErrors(t *testing.T) {
	setupUsers(t)
	mustRun(t, "users", "create", "acme", "--login", "taken")
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"weak password", "short\n", []string{"users", "create", "acme", "--login", "ada", "--password-stdin"}, "password: must be at least 12 characters"},
		{"common password", "password1234\n", []string{"users", "create", "acme", "--login", "ada", "--password-stdin"}, "password: is too common"},
		{"empty stdin", "", []string{"users", "create", "acme", "--login", "ada", "--password-stdin"}, "holds no password"},
		{"login taken in other case", "", []string{"users", "create", "acme", "--login", "TAKEN"}, "Login has already been taken"},
		{"bad login", "", []string{"users", "create", "acme", "--login", "no spaces"}, "login: must be"},
		{"no login", "", []string{"users", "create", "acme"}, "login"},
		{"unknown tenant", "", []string{"users", "list", "nosuch"}, "not found"},
		{"unknown user", "", []string{"users", "disable", "acme", "nobody"}, `no user "nobody"`},
		{"delete without --yes", "", []string{"users", "delete", "acme", "taken"}, "--yes"},
		{"update without flags", "", []string{"users", "update", "acme", "taken"}, "nothing to change"},
		{"weak reset", "taken\n", []string{"users", "reset-password", "acme", "taken", "--password-stdin"}, "password:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.stdin, tt.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", r.err, tt.want)
			}
			if strings.Contains(r.err.Error(), "\n") {
				t.Errorf("error spans lines: %q", r.err)
			}
			if s := strings.TrimSpace(tt.stdin); s != "" && strings.Contains(r.err.Error(), s) {
				t.Errorf("error echoes the password: %v", r.err)
			}
		})
	}
}
