package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var tenantTests = []test{
	{"CreateGet_RoundTrip", testTenantRoundTrip},
	{"Create_Duplicate_AlreadyExists", testTenantDuplicate},
	{"Create_ZeroTimes_Defaulted", testTenantDefaultTimes},
	{"Get_Missing_NotFound", testTenantGetMissing},
	{"List_ReturnsAll", testTenantList},
	{"Update_WritesFnResult", testTenantUpdate},
	{"Update_UntouchedUpdatedAt_Advances", testTenantUpdateStamps},
	{"Update_FnError_NothingWritten", testTenantUpdateFnError},
	{"Update_Missing_NotFound", testTenantUpdateMissing},
	{"Update_ChangedID_Refused", testTenantUpdateChangedID},
	{"Delete_Missing_NotFound", testTenantDeleteMissing},
	{"Delete_CascadesToClients_KeepsRevocationsAndAudit", testTenantDeleteCascade},
}

func testTenantRoundTrip(t *testing.T, s store.Store) {
	want := newTenant("acme")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, want) })
	got, err := s.GetTenant(t.Context(), "acme")
	noErr(t, "GetTenant", err)
	equal(t, "GetTenant", got, want, normTenant)
	checkUTC(t, "tenant", got.CreatedAt, got.UpdatedAt)
}

func testTenantDuplicate(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateTenant(ctx, newTenant("acme"))
	})
	wantErr(t, "second CreateTenant", err, store.ErrAlreadyExists)
}

func testTenantDefaultTimes(t *testing.T, s store.Store) {
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme", Status: store.StatusActive})
	})
	got, err := s.GetTenant(t.Context(), "acme")
	noErr(t, "GetTenant", err)
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Fatalf("times not defaulted: created %v, updated %v", got.CreatedAt, got.UpdatedAt)
	}
	checkUTC(t, "tenant", got.CreatedAt, got.UpdatedAt)
}

func testTenantGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetTenant(t.Context(), "nope")
	wantErr(t, "GetTenant", err, store.ErrNotFound)
}

func testTenantList(t *testing.T, s store.Store) {
	got, err := s.ListTenants(t.Context())
	noErr(t, "ListTenants on empty store", err)
	if len(got) != 0 {
		t.Fatalf("ListTenants on empty store = %v, want none", got)
	}
	createTenants(t, s, "b", "a", "c")
	got, err = s.ListTenants(t.Context())
	noErr(t, "ListTenants", err)
	var ids []string
	for _, v := range got {
		ids = append(ids, v.ID)
		equal(t, "listed tenant", v, newTenant(v.ID), normTenant)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Fatalf("ListTenants ids = %v, want [a b c]", ids)
	}
}

func testTenantUpdate(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	want := newTenant("acme")
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateTenant(ctx, "acme", func(old store.Tenant) (store.Tenant, error) {
			equal(t, "value passed to fn", old, want, normTenant)
			old.Name, old.Status, old.UpdatedAt = "Acme Corp", store.StatusDisabled, at(time.Hour)
			return old, nil
		})
	})
	want.Name, want.Status, want.UpdatedAt = "Acme Corp", store.StatusDisabled, at(time.Hour)
	got, err := s.GetTenant(t.Context(), "acme")
	noErr(t, "GetTenant", err)
	equal(t, "updated tenant", got, want, normTenant)
}

func testTenantUpdateStamps(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateTenant(ctx, "acme", func(old store.Tenant) (store.Tenant, error) {
			old.Name = "Renamed"
			return old, nil
		})
	})
	got, err := s.GetTenant(t.Context(), "acme")
	noErr(t, "GetTenant", err)
	if !got.UpdatedAt.After(newTenant("acme").UpdatedAt) {
		t.Fatalf("UpdatedAt = %v, want it moved to the clock", got.UpdatedAt)
	}
	if !got.CreatedAt.Equal(at(0)) {
		t.Fatalf("CreatedAt = %v, want unchanged %v", got.CreatedAt, at(0))
	}
}

var errFromFn = errors.New("storetest: error from fn")

func testTenantUpdateFnError(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	// The transaction itself commits: only the failed update must be absent.
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		err := tx.UpdateTenant(ctx, "acme", func(old store.Tenant) (store.Tenant, error) {
			old.Name = "changed"
			return old, errFromFn
		})
		if !errors.Is(err, errFromFn) {
			t.Errorf("UpdateTenant error = %v, want fn's error", err)
		}
		return nil
	})
	got, err := s.GetTenant(t.Context(), "acme")
	noErr(t, "GetTenant", err)
	equal(t, "tenant after failed update", got, newTenant("acme"), normTenant)
}

func testTenantUpdateMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateTenant(ctx, "nope", func(v store.Tenant) (store.Tenant, error) {
			t.Error("fn called for a missing tenant")
			return v, nil
		})
	})
	wantErr(t, "UpdateTenant", err, store.ErrNotFound)
}

func testTenantUpdateChangedID(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateTenant(ctx, "acme", func(v store.Tenant) (store.Tenant, error) {
			v.ID = "other"
			return v, nil
		})
	})
	if err == nil {
		t.Fatal("UpdateTenant changing the ID succeeded")
	}
	if _, err := s.GetTenant(t.Context(), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTenant(other) error = %v, want ErrNotFound", err)
	}
}

func testTenantDeleteMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteTenant(ctx, "nope")
	})
	wantErr(t, "DeleteTenant", err, store.ErrNotFound)
}

func testTenantDeleteCascade(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []store.Client{newClient("c1", "acme", "ada"),
			newClient("c2", "acme", "bob"), newClient("c3", "other", "ada")} {
			if err := tx.CreateClient(ctx, c); err != nil {
				return err
			}
		}
		if err := tx.CreateRevocation(ctx, store.Revocation{JTI: "j1", Tenant: "acme",
			ClientID: "c1", RevokedAt: at(0), ExpiresAt: at(24 * time.Hour)}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEvent{Tenant: "acme", Action: "client.create",
			ObjectType: "client", ObjectID: "c1"})
	})
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })

	ctx := t.Context()
	_, err := s.GetTenant(ctx, "acme")
	wantErr(t, "GetTenant after delete", err, store.ErrNotFound)
	for _, id := range []string{"c1", "c2"} {
		_, err := s.GetClient(ctx, id)
		wantErr(t, "GetClient of deleted tenant", err, store.ErrNotFound)
	}
	left, err := s.ListClients(ctx, "acme")
	noErr(t, "ListClients", err)
	if len(left) != 0 {
		t.Fatalf("ListClients(acme) after delete = %v", left)
	}
	_, err = s.GetClient(ctx, "c3")
	noErr(t, "GetClient of the other tenant", err)
	_, err = s.GetRevocation(ctx, "j1")
	noErr(t, "GetRevocation of deleted tenant", err)
	events, err := s.ListAudit(ctx, store.AuditFilter{Tenant: "acme"})
	noErr(t, "ListAudit", err)
	if len(events) != 1 {
		t.Fatalf("ListAudit(acme) after delete = %d events, want 1", len(events))
	}
	noErr(t, "CheckIntegrity", s.CheckIntegrity(ctx))
}

var scopeTests = []test{
	{"PutGet_RoundTrip", testScopeRoundTrip},
	{"Put_Existing_Replaces", testScopeReplace},
	{"Get_Missing_NotFound", testScopeGetMissing},
	{"List_ReturnsAll", testScopeList},
	{"Delete_RemovesIt", testScopeDelete},
	{"Delete_Missing_NotFound", testScopeDeleteMissing},
}

func newScope(name string) store.Scope {
	return store.Scope{Name: name, Description: "Read " + name,
		Permissions: []string{"invoices:read", "invoices:list"}, Builtin: true,
		CreatedAt: at(0), UpdatedAt: at(time.Second)}
}

func putScopes(t *testing.T, s store.Store, scopes ...store.Scope) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, sc := range scopes {
			if err := tx.PutScope(ctx, sc); err != nil {
				return err
			}
		}
		return nil
	})
}

func testScopeRoundTrip(t *testing.T, s store.Store) {
	want := newScope("core.invoice.read")
	putScopes(t, s, want, store.Scope{Name: "openid"})
	got, err := s.GetScope(t.Context(), want.Name)
	noErr(t, "GetScope", err)
	equal(t, "GetScope", got, want, normScope)
	checkUTC(t, "scope", got.CreatedAt, got.UpdatedAt)

	bare, err := s.GetScope(t.Context(), "openid")
	noErr(t, "GetScope(openid)", err)
	if bare.Builtin || len(bare.Permissions) != 0 || bare.CreatedAt.IsZero() {
		t.Fatalf("bare scope read back as %+v", bare)
	}
}

func testScopeReplace(t *testing.T, s store.Store) {
	putScopes(t, s, newScope("core.invoice.read"))
	want := store.Scope{Name: "core.invoice.read", Description: "new",
		Permissions: []string{"invoices:read"}, CreatedAt: at(0), UpdatedAt: at(time.Hour)}
	putScopes(t, s, want)
	got, err := s.GetScope(t.Context(), want.Name)
	noErr(t, "GetScope", err)
	equal(t, "replaced scope", got, want, normScope)
}

func testScopeGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetScope(t.Context(), "nope")
	wantErr(t, "GetScope", err, store.ErrNotFound)
}

func testScopeList(t *testing.T, s store.Store) {
	putScopes(t, s, newScope("b.x.read"), newScope("a.x.read"))
	got, err := s.ListScopes(t.Context())
	noErr(t, "ListScopes", err)
	var names []string
	for _, sc := range got {
		names = append(names, sc.Name)
		equal(t, "listed scope", sc, newScope(sc.Name), normScope)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"a.x.read", "b.x.read"}) {
		t.Fatalf("ListScopes names = %v", names)
	}
}

func testScopeDelete(t *testing.T, s store.Store) {
	putScopes(t, s, newScope("a.x.read"), newScope("b.x.read"))
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteScope(ctx, "a.x.read") })
	_, err := s.GetScope(t.Context(), "a.x.read")
	wantErr(t, "GetScope after delete", err, store.ErrNotFound)
	_, err = s.GetScope(t.Context(), "b.x.read")
	noErr(t, "GetScope of the other scope", err)
}

func testScopeDeleteMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteScope(ctx, "nope") })
	wantErr(t, "DeleteScope", err, store.ErrNotFound)
}
