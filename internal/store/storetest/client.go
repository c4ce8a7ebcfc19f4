package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var clientTests = []test{
	{"CreateGet_RoundTripsEveryField", testClientRoundTrip},
	{"CreateGet_EmptyFields", testClientEmpty},
	{"Create_Duplicate_AlreadyExists", testClientDuplicate},
	{"Create_MissingTenant_NotFound", testClientMissingTenant},
	{"Create_ContactLoginTaken_Conflict", testClientLoginConflict},
	{"Get_Missing_NotFound", testClientGetMissing},
	{"List_FiltersByTenant", testClientList},
	{"Update_WritesFnResult", testClientUpdate},
	{"Update_ToTakenContactLogin_Conflict", testClientUpdateLoginConflict},
	{"Update_FnError_NothingWritten", testClientUpdateFnError},
	{"Update_Missing_NotFound", testClientUpdateMissing},
	{"Delete_RemovesIt", testClientDelete},
	{"Delete_Missing_NotFound", testClientDeleteMissing},
	{"Update_ConcurrentIncrements_NoneLost", testClientConcurrentUpdates},
}

func createClients(t *testing.T, s store.Store, clients ...store.Client) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, c := range clients {
			if err := tx.CreateClient(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func createClientErr(t *testing.T, s store.Store, c store.Client) error {
	t.Helper()
	return writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateClient(ctx, c) })
}

func testClientRoundTrip(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	want := newClient("c1", "acme", "ada")
	createClients(t, s, want)
	got, err := s.GetClient(t.Context(), "c1")
	noErr(t, "GetClient", err)
	equal(t, "GetClient", got, want, normClient)
	checkUTC(t, "client", got.CreatedAt, got.UpdatedAt, got.Secrets[0].CreatedAt,
		got.Secrets[1].CreatedAt, *got.Secrets[1].ExpiresAt)
	if got.Secrets[0].ExpiresAt != nil {
		t.Fatalf("secret without expiry read back with ExpiresAt %v", got.Secrets[0].ExpiresAt)
	}
}

func testClientEmpty(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createClients(t, s, store.Client{ID: "bare", Tenant: "acme"})
	got, err := s.GetClient(t.Context(), "bare")
	noErr(t, "GetClient", err)
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Fatalf("times not defaulted: %+v", got)
	}
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	equal(t, "bare client", got, store.Client{ID: "bare", Tenant: "acme"}, normClient)
}

func testClientDuplicate(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createClients(t, s, newClient("c1", "acme", "ada"))
	// The client id is global: the same id in another tenant is a duplicate too.
	err := createClientErr(t, s, newClient("c1", "other", "bob"))
	wantErr(t, "CreateClient with a used id", err, store.ErrAlreadyExists)
}

func testClientMissingTenant(t *testing.T, s store.Store) {
	err := createClientErr(t, s, newClient("c1", "nope", "ada"))
	wantErr(t, "CreateClient in a missing tenant", err, store.ErrNotFound)
}

func testClientLoginConflict(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createClients(t, s, newClient("c1", "acme", "ada"))
	tests := []struct {
		name   string
		client store.Client
		want   error
	}{
		{"same tenant, same login", newClient("c2", "acme", "ada"), store.ErrConflict},
		{"other tenant, same login", newClient("c3", "other", "ada"), nil},
		{"same tenant, other login", newClient("c4", "acme", "bob"), nil},
		{"same tenant, empty login", newClient("c5", "acme", ""), nil},
		{"same tenant, second empty login", newClient("c6", "acme", ""), nil},
	}
	for _, tc := range tests {
		err := createClientErr(t, s, tc.client)
		if !errors.Is(err, tc.want) { // errors.Is(err, nil) means err == nil
			t.Errorf("%s: CreateClient error = %v, want %v", tc.name, err, tc.want)
		}
	}
	_, err := s.GetClient(t.Context(), "c2")
	wantErr(t, "GetClient of the refused client", err, store.ErrNotFound)
}

func testClientGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetClient(t.Context(), "nope")
	wantErr(t, "GetClient", err, store.ErrNotFound)
}

func clientIDs(cs []store.Client) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

func testClientList(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other", "empty")
	createClients(t, s, newClient("a2", "acme", "x"), newClient("a1", "acme", "y"),
		newClient("o1", "other", "x"))
	tests := []struct {
		tenant string
		want   []string
	}{
		{"acme", []string{"a1", "a2"}},
		{"other", []string{"o1"}},
		{"empty", nil},
		{"missing", nil},
		{"", []string{"a1", "a2", "o1"}},
	}
	for _, tc := range tests {
		got, err := s.ListClients(t.Context(), tc.tenant)
		noErr(t, "ListClients", err)
		if ids := clientIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("ListClients(%q) = %v, want %v", tc.tenant, ids, tc.want)
		}
		for _, c := range got {
			want := newClient(c.ID, c.Tenant, c.Contact.Login)
			equal(t, "listed client", c, want, normClient)
		}
	}
}

func testClientUpdate(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	want := newClient("c1", "acme", "ada")
	createClients(t, s, want)
	exp := at(72 * time.Hour)
	change := func(c store.Client) store.Client {
		c.Name = "Renamed"
		c.Contact = store.Contact{Login: "grace", Email: "grace@example.com"}
		c.Scopes = []string{"core.invoice.read"}
		c.GrantTypes = nil
		c.Secrets = []store.ClientSecret{c.Secrets[1],
			{ID: "s3", Hash: []byte{9, 9}, Hint: "…9999", CreatedAt: at(time.Hour), ExpiresAt: &exp}}
		c.AccessTokenTTL = 90 * time.Second
		c.Status = store.StatusDisabled
		c.UpdatedAt = at(time.Hour)
		return c
	}
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateClient(ctx, "c1", func(old store.Client) (store.Client, error) {
			equal(t, "value passed to fn", old, want, normClient)
			return change(old), nil
		})
	})
	got, err := s.GetClient(t.Context(), "c1")
	noErr(t, "GetClient", err)
	equal(t, "updated client", got, change(want), normClient)
}

func testClientUpdateLoginConflict(t *testing.T, s store.Store) {
	createTenants(t, s, "acme", "other")
	createClients(t, s, newClient("c1", "acme", "ada"), newClient("c2", "acme", "bob"),
		newClient("c3", "other", "carol"))
	setLogin := func(id, login string) error {
		return writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateClient(ctx, id, func(c store.Client) (store.Client, error) {
				c.Contact.Login = login
				return c, nil
			})
		})
	}
	wantErr(t, "taking another client's login", setLogin("c2", "ada"), store.ErrConflict)
	noErr(t, "keeping its own login", setLogin("c1", "ada"))
	noErr(t, "taking a login used in another tenant", setLogin("c3", "ada"))
	got, err := s.GetClient(t.Context(), "c2")
	noErr(t, "GetClient", err)
	if got.Contact.Login != "bob" {
		t.Fatalf("refused update was written: login %q", got.Contact.Login)
	}
}

func testClientUpdateFnError(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createClients(t, s, newClient("c1", "acme", "ada"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateClient(ctx, "c1", func(c store.Client) (store.Client, error) {
			c.Name = "changed"
			return c, fmt.Errorf("validate: %w", errFromFn)
		})
	})
	wantErr(t, "UpdateClient", err, errFromFn)
	got, err := s.GetClient(t.Context(), "c1")
	noErr(t, "GetClient", err)
	equal(t, "client after failed update", got, newClient("c1", "acme", "ada"), normClient)
}

func testClientUpdateMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateClient(ctx, "nope", func(c store.Client) (store.Client, error) { return c, nil })
	})
	wantErr(t, "UpdateClient", err, store.ErrNotFound)
}

func testClientDelete(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	createClients(t, s, newClient("c1", "acme", "ada"), newClient("c2", "acme", "bob"))
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteClient(ctx, "c1") })
	_, err := s.GetClient(t.Context(), "c1")
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
	left, err := s.ListClients(t.Context(), "acme")
	noErr(t, "ListClients", err)
	if ids := clientIDs(left); !slices.Equal(ids, []string{"c2"}) {
		t.Fatalf("ListClients after delete = %v, want [c2]", ids)
	}
	// The login is free again.
	createClients(t, s, newClient("c3", "acme", "ada"))
}

func testClientDeleteMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteClient(ctx, "nope") })
	wantErr(t, "DeleteClient", err, store.ErrNotFound)
}

func testClientConcurrentUpdates(t *testing.T, s store.Store) {
	const workers, each = 8, 25
	createTenants(t, s, "acme")
	c := newClient("c1", "acme", "ada")
	c.AccessTokenTTL = 0
	createClients(t, s, c)

	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.UpdateClient(ctx, "c1", func(c store.Client) (store.Client, error) {
						c.AccessTokenTTL += time.Second
						return c, nil
					})
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, "concurrent UpdateClient", err)
	}
	got, err := s.GetClient(t.Context(), "c1")
	noErr(t, "GetClient", err)
	if want := workers * each * time.Second; got.AccessTokenTTL != want {
		t.Fatalf("AccessTokenTTL = %v after %d increments, want %v", got.AccessTokenTTL, workers*each, want)
	}
}
