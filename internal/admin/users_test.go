package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/password"
	"github.com/keyshift/keyshift/internal/store"
)

// newUserEnv is newEnv with cheap argon2id parameters: under the race
// detector the defaults take most of a second per hash. The format and
// every check are the same.
func newUserEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	h, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	e.api.pw = h // before any request reaches the server
	return e
}

// verifyStored checks pw against the user's stored hash with the API's own
// hasher.
func (e *env) verifyStored(t *testing.T, id, pw string) bool {
	t.Helper()
	u, err := e.st.GetUser(context.Background(), id)
	if err != nil {
		t.Fatalf("get user %s: %v", id, err)
	}
	ok, rehash, err := e.api.pw.Verify(u.PasswordHash, pw)
	if err != nil || rehash {
		t.Fatalf("verify stored hash: rehash %v, err %v", rehash, err)
	}
	return ok
}

// assertNoSecret fails when text holds a password or any argon2id hash.
func assertNoSecret(t *testing.T, what string, text []byte, passwords ...string) {
	t.Helper()
	s := string(text)
	if strings.Contains(s, "$argon2id$") || strings.Contains(strings.ToLower(s), "hash") {
		t.Errorf("%s holds a password hash: %s", what, s)
	}
	for _, pw := range passwords {
		if pw != "" && strings.Contains(s, pw) {
			t.Errorf("%s holds the password: %s", what, s)
		}
	}
}

// mustCreateUser creates a user of tenant as the operator and returns it
// with its generated password.
func (e *env) mustCreateUser(t *testing.T, tenant, login string, roles ...string) UserWithPassword {
	t.Helper()
	u, err := e.api.CreateUser(context.Background(), operator, tenant, CreateUserRequest{
		Login: login, Email: login + "@example.com", Name: "User " + login, Roles: roles})
	if err != nil {
		t.Fatalf("create user %s: %v", login, err)
	}
	return u
}

// allAudit returns every audit event as one string.
func (e *env) allAudit(t *testing.T) []byte {
	t.Helper()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestCreateUser_NoPassword_GeneratedShownOnceStoredAsArgon2id(t *testing.T) {
	// The default hasher: the stored hash must need no rehash under it.
	e := newEnv(t)
	r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/users",
		`{"login":"Ada.Lovelace","email":"ada@acme.example","name":"Ada Lovelace","roles":["admin"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	var got UserWithPassword
	r.decode(t, &got)
	if got.Password == "" || (password.Policy{}).Check(got.Password, got.Login, got.Email) != nil {
		t.Fatalf("generated password %q missing or weak", got.Password)
	}
	if !strings.HasPrefix(got.ID, "usr_") || got.Tenant != "acme" || got.Login != "Ada.Lovelace" ||
		!slices.Equal(got.Roles, []string{"admin"}) || got.Disabled || got.PasswordChangedAt == nil {
		t.Errorf("user = %+v", got.UserView)
	}
	if loc := r.header.Get("Location"); loc != "/admin/v1/tenants/acme/users/"+got.ID {
		t.Errorf("Location = %q", loc)
	}
	assertNoSecret(t, "create answer", r.body)
	if !e.verifyStored(t, got.ID, got.Password) {
		t.Fatal("the generated password does not verify against the stored hash")
	}
	if e.verifyStored(t, got.ID, strings.ToLower(got.Password)) {
		t.Fatal("a different password verifies")
	}
	if u, _ := e.st.GetUser(context.Background(), got.ID); !strings.HasPrefix(string(u.PasswordHash), "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("stored hash %.40s… is not argon2id with the default parameters", u.PasswordHash)
	}

	// Shown once: no later answer carries it.
	for _, path := range []string{"/admin/v1/tenants/acme/users", "/admin/v1/tenants/acme/users/" + got.ID} {
		r := e.call(t, tokAcme, http.MethodGet, path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		assertNoSecret(t, "GET "+path, r.body, got.Password)
		if strings.Contains(string(r.body), `"password"`) {
			t.Errorf("GET %s has a password field: %s", path, r.body)
		}
	}

	evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "user.create", ObjectID: got.ID})
	if len(evs) != 1 {
		t.Fatalf("audit events = %d, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Actor != acmeAdmin.ClientID || ev.Tenant != "acme" || ev.ObjectType != "user" {
		t.Errorf("audit event = %+v", ev)
	}
	var det map[string]any
	if err := json.Unmarshal(ev.Details, &det); err != nil || det["login"] != "Ada.Lovelace" || det["password_generated"] != true {
		t.Errorf("audit details = %s (%v)", ev.Details, err)
	}
	assertNoSecret(t, "audit trail", e.allAudit(t), got.Password)
}

func TestCreateUser_GivenPassword_NotEchoedAndVerifies(t *testing.T) {
	e := newUserEnv(t)
	const pw = "a long passphrase nobody guesses"
	r := e.call(t, tokOperator, http.MethodPost, "/admin/v1/tenants/globex/users",
		map[string]any{"login": "grace", "password": pw})
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	assertNoSecret(t, "create answer", r.body, pw)
	var got UserWithPassword
	r.decode(t, &got)
	if got.Password != "" || strings.Contains(string(r.body), `"password"`) {
		t.Fatalf("answer carries a password: %s", r.body)
	}
	if !slices.Equal(got.Roles, []string{}) || got.Email != "" {
		t.Errorf("user = %+v", got.UserView)
	}
	if !e.verifyStored(t, got.ID, pw) {
		t.Fatal("the given password does not verify")
	}
	assertNoSecret(t, "audit trail", e.allAudit(t), pw)
}

func TestCreateUser_Validation(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		tenant     string
		body       string
		wantStatus int
		wantField  string
	}{
		{"minimal", tokAcme, "acme", `{"login":"ada"}`, 201, ""},
		{"email-shaped login", tokAcme, "acme", `{"login":"ada+ops@acme.example"}`, 201, ""},
		{"login 128 characters", tokAcme, "acme", `{"login":"` + strings.Repeat("a", 128) + `"}`, 201, ""},
		{"login missing", tokAcme, "acme", `{"email":"ada@acme.example"}`, 400, "login"},
		{"login 129 characters", tokAcme, "acme", `{"login":"` + strings.Repeat("a", 129) + `"}`, 400, "login"},
		{"login with space", tokAcme, "acme", `{"login":"ada lovelace"}`, 400, "login"},
		{"login starting with dot", tokAcme, "acme", `{"login":".ada"}`, 400, "login"},
		{"login with slash", tokAcme, "acme", `{"login":"ada/x"}`, 400, "login"},
		{"login non-ASCII", tokAcme, "acme", `{"login":"adä"}`, 400, "login"},
		{"email with display name", tokAcme, "acme", `{"login":"ada","email":"Ada <ada@acme.example>"}`, 400, "email"},
		{"email not an address", tokAcme, "acme", `{"login":"ada","email":"ada"}`, 400, "email"},
		{"name with newline", tokAcme, "acme", `{"login":"ada","name":"Ada\nLovelace"}`, 400, "name"},
		{"unknown role", tokAcme, "acme", `{"login":"ada","roles":["owner"]}`, 400, "roles[0]"},
		{"repeated role", tokAcme, "acme", `{"login":"ada","roles":["admin","admin"]}`, 400, "roles"},
		{"password too short", tokAcme, "acme", `{"login":"ada","password":"Sh0rt!pass"}`, 400, "password"},
		{"password empty", tokAcme, "acme", `{"login":"ada","password":""}`, 400, "password"},
		{"password equals login", tokAcme, "acme", `{"login":"ada.lovelace.1815","password":"Ada.Lovelace.1815"}`, 400, "password"},
		{"password equals email", tokAcme, "acme", `{"login":"ada","email":"ada.lovelace@acme.example","password":"ada.lovelace@acme.example"}`, 400, "password"},
		{"password common", tokAcme, "acme", `{"login":"ada","password":"Password1234"}`, 400, "password"},
		{"password not a string", tokAcme, "acme", `{"login":"ada","password":123456789012}`, 400, ""},
		{"unknown field", tokAcme, "acme", `{"login":"ada","password_hash":"$argon2id$"}`, 400, ""},
		{"platform admin by operator", tokOperator, "platform", `{"login":"root","roles":["admin"]}`, 201, ""},
		{"platform admin by platform tenant admin", tokPlatform, "platform", `{"login":"root","roles":["admin"]}`, 400, "roles[0]"},
		{"platform user by platform tenant admin", tokPlatform, "platform", `{"login":"helper"}`, 201, ""},
		{"other tenant", tokAcme, "globex", `{"login":"ada"}`, 404, ""},
		{"unknown tenant", tokOperator, "nosuch", `{"login":"ada"}`, 404, ""},
		{"no admin scope", tokReader, "acme", `{"login":"ada"}`, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUserEnv(t)
			r := e.call(t, tt.token, http.MethodPost, "/admin/v1/tenants/"+tt.tenant+"/users", tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			n := e.auditCount(t, "user.create", "")
			if r.status == http.StatusCreated {
				if n != 1 {
					t.Errorf("audit events = %d, want 1", n)
				}
				return
			}
			p := r.problem(t)
			if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
				t.Errorf("field errors %v, want %s", p.Errors, tt.wantField)
			}
			if n != 0 {
				t.Errorf("a refused request wrote %d audit events", n)
			}
			if strings.Contains(tt.body, `"password":"`) {
				pw := strings.SplitN(strings.SplitN(tt.body, `"password":"`, 2)[1], `"`, 2)[0]
				assertNoSecret(t, "problem", r.body, pw)
			}
			if us, _ := e.st.ListUsers(context.Background(), tt.tenant); len(us) != 0 {
				t.Errorf("a refused request stored %d users", len(us))
			}
		})
	}
}

func TestCreateUser_LoginTakenIgnoringCase_Conflict(t *testing.T) {
	e := newUserEnv(t)
	first := e.mustCreateUser(t, "acme", "Ada")
	tests := []struct {
		name, tenant, login string
		wantStatus          int
	}{
		{"same case", "acme", "Ada", http.StatusConflict},
		{"lower case", "acme", "ada", http.StatusConflict},
		{"upper case", "acme", "ADA", http.StatusConflict},
		{"other tenant", "globex", "ada", http.StatusCreated},
		{"other login", "acme", "ada2", http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tokOperator, http.MethodPost, "/admin/v1/tenants/"+tt.tenant+"/users", map[string]any{"login": tt.login})
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if r.status == http.StatusConflict {
				p := r.problem(t)
				if p.Title != "Login has already been taken" || !slices.Equal(fieldsOf(p), []string{"login"}) {
					t.Errorf("problem = %+v", p)
				}
			}
		})
	}
	if got, err := e.st.GetUser(context.Background(), first.ID); err != nil || got.Login != "Ada" {
		t.Errorf("first user = %+v, %v", got, err)
	}
	if n := e.auditCount(t, "user.create", ""); n != 3 {
		t.Errorf("user.create events = %d, want 3", n)
	}
}

// TestCreateUser_LoginTakenInStore_Conflict covers the race the early
// check cannot see: the store's uniqueness rule answers, still as a 409.
func TestCreateUser_LoginTakenInStore_Conflict(t *testing.T) {
	e := newUserEnv(t)
	now := e.clock.Now()
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.CreateUser(context.Background(), store.User{ID: "usr_x", Tenant: "acme", Login: "ADA", CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.api.CreateUser(context.Background(), operator, "acme", CreateUserRequest{Login: "ada"})
	p, ok := err.(*Problem)
	if !ok || p.Status != http.StatusConflict {
		t.Fatalf("err = %v, want a 409 problem", err)
	}
}

func TestUsers_TenantIsolation(t *testing.T) {
	e := newUserEnv(t)
	acmeUser := e.mustCreateUser(t, "acme", "ada")
	globexUser := e.mustCreateUser(t, "globex", "grace")
	tests := []struct {
		name, token, method, path string
		body                      any
		wantStatus                int
	}{
		{"globex admin lists acme", tokGlobex, http.MethodGet, "/admin/v1/tenants/acme/users", nil, 404},
		{"globex admin gets acme user", tokGlobex, http.MethodGet, "/admin/v1/tenants/acme/users/" + acmeUser.ID, nil, 404},
		{"globex admin gets acme user through globex", tokGlobex, http.MethodGet, "/admin/v1/tenants/globex/users/" + acmeUser.ID, nil, 404},
		{"globex admin patches acme user", tokGlobex, http.MethodPatch, "/admin/v1/tenants/globex/users/" + acmeUser.ID, `{"disabled":true}`, 404},
		{"globex admin resets acme password", tokGlobex, http.MethodPost, "/admin/v1/tenants/globex/users/" + acmeUser.ID + "/password", nil, 404},
		{"globex admin deletes acme user", tokGlobex, http.MethodDelete, "/admin/v1/tenants/acme/users/" + acmeUser.ID, nil, 404},
		{"acme admin creates in globex", tokAcme, http.MethodPost, "/admin/v1/tenants/globex/users", `{"login":"mallory"}`, 404},
		{"unknown user", tokAcme, http.MethodGet, "/admin/v1/tenants/acme/users/usr_nosuch", nil, 404},
		{"acme admin gets own user", tokAcme, http.MethodGet, "/admin/v1/tenants/acme/users/" + acmeUser.ID, nil, 200},
		{"operator gets globex user", tokOperator, http.MethodGet, "/admin/v1/tenants/globex/users/" + globexUser.ID, nil, 200},
		{"no token", "", http.MethodGet, "/admin/v1/tenants/acme/users", nil, 401},
		{"no admin scope", tokReader, http.MethodGet, "/admin/v1/tenants/acme/users", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tt.token, tt.method, tt.path, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if r.status >= 400 {
				p := r.problem(t)
				if strings.Contains(string(r.body), "ada") {
					t.Errorf("problem names the other tenant's user: %+v", p)
				}
			}
		})
	}
	// Nothing changed, and each tenant's list holds only its own users.
	if u, _ := e.st.GetUser(context.Background(), acmeUser.ID); u.Disabled || !e.verifyStored(t, acmeUser.ID, acmeUser.Password) {
		t.Error("the acme user was changed through another tenant")
	}
	var list UserList
	e.call(t, tokGlobex, http.MethodGet, "/admin/v1/tenants/globex/users", nil).decode(t, &list)
	if len(list.Users) != 1 || list.Users[0].ID != globexUser.ID {
		t.Errorf("globex list = %+v", list.Users)
	}
	if n := e.auditCount(t, "user.update", "") + e.auditCount(t, "user.password_reset", "") + e.auditCount(t, "user.delete", ""); n != 0 {
		t.Errorf("refused requests wrote %d audit events", n)
	}
}

func TestUpdateUser(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantField  string
		check      func(t *testing.T, u store.User)
	}{
		{"disable", `{"disabled":true}`, 200, "", func(t *testing.T, u store.User) {
			if !u.Disabled {
				t.Error("not disabled")
			}
		}},
		{"email and name", `{"email":"new@acme.example","name":"New Name"}`, 200, "", func(t *testing.T, u store.User) {
			if u.Email != "new@acme.example" || u.Name != "New Name" {
				t.Errorf("user = %+v", u)
			}
		}},
		{"clear email", `{"email":""}`, 200, "", func(t *testing.T, u store.User) {
			if u.Email != "" || u.Name != "User ada" {
				t.Errorf("user = %+v", u)
			}
		}},
		{"make admin", `{"roles":["admin"]}`, 200, "", func(t *testing.T, u store.User) {
			if !slices.Equal(u.Roles, []string{"admin"}) {
				t.Errorf("roles = %v", u.Roles)
			}
		}},
		{"no roles", `{"roles":[]}`, 200, "", func(t *testing.T, u store.User) {
			if len(u.Roles) != 0 {
				t.Errorf("roles = %v", u.Roles)
			}
		}},
		{"nothing", `{}`, 400, "", nil},
		{"login is not editable", `{"login":"eve"}`, 400, "", nil},
		{"password is not editable here", `{"password":"a long passphrase nobody guesses"}`, 400, "", nil},
		{"bad email", `{"email":"not-an-address"}`, 400, "email", nil},
		{"bad role", `{"roles":["root"]}`, 400, "roles[0]", nil},
		{"disabled not a bool", `{"disabled":"yes"}`, 400, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUserEnv(t)
			u := e.mustCreateUser(t, "acme", "ada", "admin")
			e.clock.Add(time.Minute)
			r := e.call(t, tokAcme, http.MethodPatch, "/admin/v1/tenants/acme/users/"+u.ID, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			stored, err := e.st.GetUser(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			n := e.auditCount(t, "user.update", u.ID)
			if r.status != http.StatusOK {
				p := r.problem(t)
				if tt.wantField != "" && !slices.Contains(fieldsOf(p), tt.wantField) {
					t.Errorf("field errors %v, want %s", p.Errors, tt.wantField)
				}
				if n != 0 || !stored.UpdatedAt.Equal(u.UpdatedAt) {
					t.Errorf("a refused change wrote: audit %d, updated_at %v", n, stored.UpdatedAt)
				}
				return
			}
			assertNoSecret(t, "PATCH answer", r.body, u.Password)
			tt.check(t, stored)
			if !stored.UpdatedAt.Equal(testStart.Add(time.Minute)) || !e.verifyStored(t, u.ID, u.Password) {
				t.Errorf("updated_at = %v, or the password changed", stored.UpdatedAt)
			}
			evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "user.update", ObjectID: u.ID})
			if len(evs) != 1 || strings.Contains(string(evs[0].Details), "@acme.example") || strings.Contains(string(evs[0].Details), "New Name") {
				t.Errorf("audit events = %+v (personal data is named, not copied)", evs)
			}
		})
	}
}

func TestSetUserPassword(t *testing.T) {
	tests := []struct {
		name       string
		body       any // nil = empty body
		wantStatus int
		wantShown  bool
		newPW      string // the password that must verify afterwards ("" = the shown one)
		wantField  string
	}{
		{"generated with empty body", nil, 200, true, "", ""},
		{"generated with empty object", `{}`, 200, true, "", ""},
		{"given", `{"password":"another long passphrase here"}`, 200, false, "another long passphrase here", ""},
		{"too short", `{"password":"short"}`, 400, false, "", "password"},
		{"equals login", `{"password":"ada.lovelace.1815"}`, 400, false, "", "password"},
		{"common", `{"password":"qwertyuiop123"}`, 400, false, "", "password"},
		{"unknown field", `{"pw":"another long passphrase here"}`, 400, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUserEnv(t)
			u := e.mustCreateUser(t, "acme", "ada.lovelace.1815")
			e.clock.Add(time.Hour)
			r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/users/"+u.ID+"/password", tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			stored, _ := e.st.GetUser(context.Background(), u.ID)
			if r.status != http.StatusOK {
				p := r.problem(t)
				if tt.wantField != "" && !slices.Equal(fieldsOf(p), []string{tt.wantField}) {
					t.Errorf("field errors = %v, want %s", p.Errors, tt.wantField)
				}
				if !e.verifyStored(t, u.ID, u.Password) || e.auditCount(t, "user.password_reset", "") != 0 {
					t.Error("a refused reset changed the password or wrote an audit event")
				}
				return
			}
			var got UserWithPassword
			r.decode(t, &got)
			if tt.wantShown != (got.Password != "") {
				t.Fatalf("password shown = %v, want %v: %s", got.Password != "", tt.wantShown, r.body)
			}
			want := tt.newPW
			if want == "" {
				want = got.Password
			}
			if !e.verifyStored(t, u.ID, want) || e.verifyStored(t, u.ID, u.Password) {
				t.Error("the new password does not verify, or the old one still does")
			}
			if !stored.PasswordChangedAt.Equal(testStart.Add(time.Hour)) || got.PasswordChangedAt == nil || !got.PasswordChangedAt.Equal(stored.PasswordChangedAt) {
				t.Errorf("password_changed_at = %v, answer %v", stored.PasswordChangedAt, got.PasswordChangedAt)
			}
			assertNoSecret(t, "reset answer", []byte(strings.ReplaceAll(string(r.body), got.Password, "")), tt.newPW)
			if e.auditCount(t, "user.password_reset", u.ID) != 1 {
				t.Error("no audit event")
			}
			assertNoSecret(t, "audit trail", e.allAudit(t), want, u.Password)
		})
	}
}

func TestDeleteUser(t *testing.T) {
	e := newUserEnv(t)
	u := e.mustCreateUser(t, "acme", "ada")
	r := e.call(t, tokAcme, http.MethodDelete, "/admin/v1/tenants/acme/users/"+u.ID, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	if r := e.call(t, tokAcme, http.MethodGet, "/admin/v1/tenants/acme/users/"+u.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("GET after delete: %d", r.status)
	}
	if r := e.call(t, tokAcme, http.MethodDelete, "/admin/v1/tenants/acme/users/"+u.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("second DELETE: %d", r.status)
	}
	if n := e.auditCount(t, "user.delete", u.ID); n != 1 {
		t.Errorf("user.delete events = %d", n)
	}
	// The login is free again.
	if r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/users", `{"login":"ADA"}`); r.status != http.StatusCreated {
		t.Errorf("re-create: %d %s", r.status, r.body)
	}
}

// An admin of the platform tenant is an operator: a platform tenant admin
// (not an operator) must not take one over or remove one.
func TestPlatformAdminUser_OnlyOperatorsChangeIt(t *testing.T) {
	e := newUserEnv(t)
	root := e.mustCreateUser(t, store.PlatformTenant, "root", "admin")
	helper := e.mustCreateUser(t, store.PlatformTenant, "helper")
	base := "/admin/v1/tenants/platform/users/"
	tests := []struct {
		name, token, method, path string
		body                      any
		wantStatus                int
	}{
		{"reset operator's password", tokPlatform, http.MethodPost, base + root.ID + "/password", nil, 403},
		{"disable operator", tokPlatform, http.MethodPatch, base + root.ID, `{"disabled":true}`, 403},
		{"delete operator", tokPlatform, http.MethodDelete, base + root.ID, nil, 403},
		{"promote helper", tokPlatform, http.MethodPatch, base + helper.ID, `{"roles":["admin"]}`, 400},
		{"rename helper", tokPlatform, http.MethodPatch, base + helper.ID, `{"name":"Helper"}`, 200},
		{"operator resets operator", tokOperator, http.MethodPost, base + root.ID + "/password", nil, 200},
		{"operator promotes helper", tokOperator, http.MethodPatch, base + helper.ID, `{"roles":["admin"]}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tt.token, tt.method, tt.path, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
		})
	}
}

// TestUsers_AnswersNeverHoldAHash walks every user endpoint once and checks
// that no answer and no audit event holds a password or a hash.
func TestUsers_AnswersNeverHoldAHash(t *testing.T) {
	e := newUserEnv(t)
	const given = "my chosen passphrase 42"
	var shown []string
	r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/users", map[string]any{"login": "ada", "password": given})
	var u UserWithPassword
	r.decode(t, &u)
	steps := []struct{ method, path, body string }{
		{http.MethodGet, "/admin/v1/tenants/acme/users", ""},
		{http.MethodGet, "/admin/v1/tenants/acme/users/" + u.ID, ""},
		{http.MethodPatch, "/admin/v1/tenants/acme/users/" + u.ID, `{"disabled":true}`},
		{http.MethodPost, "/admin/v1/tenants/acme/users/" + u.ID + "/password", ""},
		{http.MethodPost, "/admin/v1/tenants/acme/users/" + u.ID + "/password", `{"password":"` + given + ` again"}`},
		{http.MethodDelete, "/admin/v1/tenants/acme/users/" + u.ID, ""},
	}
	bodies := [][]byte{r.body}
	for _, s := range steps {
		var body any
		if s.body != "" {
			body = s.body
		}
		r := e.call(t, tokAcme, s.method, s.path, body)
		if r.status >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, r.status, r.body)
		}
		var m map[string]any
		if len(r.body) > 0 && json.Unmarshal(r.body, &m) == nil {
			if pw, ok := m["password"].(string); ok {
				shown = append(shown, pw)
				r.body = []byte(strings.ReplaceAll(string(r.body), pw, ""))
			}
		}
		bodies = append(bodies, r.body)
	}
	if len(shown) != 1 {
		t.Fatalf("generated passwords shown %d times, want once (the reset without a body)", len(shown))
	}
	for i, b := range bodies {
		assertNoSecret(t, "answer "+string(rune('0'+i)), b, given)
	}
	assertNoSecret(t, "audit trail", e.allAudit(t), append(shown, given)...)
}
