package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// The API key, usage, settings and outbox methods (store.KeyReader and
// store.KeyTx) are checked when the backend provides them.

var apiKeyTests = []test{
	{"CreateGet_RoundTripsEveryField", testAPIKeyRoundTrip},
	{"GetByHash_FindsIt", testAPIKeyByHash},
	{"Create_DuplicateID_AlreadyExists", testAPIKeyDuplicateID},
	{"Create_DuplicateHash_Conflict", testAPIKeyDuplicateHash},
	{"Create_MissingTenant_NotFound", testAPIKeyMissingTenant},
	{"List_FiltersAndPages", testAPIKeyList},
	{"Update_WritesFnResult", testAPIKeyUpdate},
	{"Update_FnError_NothingWritten", testAPIKeyUpdateFnError},
	{"Update_Missing_NotFound", testAPIKeyUpdateMissing},
	{"Delete_RemovesIt", testAPIKeyDelete},
	{"DeleteTenant_CascadesAndPublishes", testAPIKeyTenantCascade},
	{"Changes_Published", testAPIKeyChanges},
	{"CreateAPIKeys_AsCreateAPIKeyEach", testAPIKeyBulkCreate},
}

// keyStore returns the key methods of s (part of store.Reader).
func keyStore(t *testing.T, s store.Store) store.KeyReader {
	t.Helper()
	return s
}

// keyWrite runs fn with the transaction's key methods.
func keyWrite(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.KeyTx) error) error {
	t.Helper()
	return writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return fn(ctx, tx)
	})
}

func mustKeyWrite(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.KeyTx) error) {
	t.Helper()
	if err := keyWrite(t, s, fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newAPIKey(id, tenant string) store.APIKey {
	exp, disable, used := at(90*24*time.Hour), at(30*24*time.Hour), at(time.Hour)
	return store.APIKey{
		ID: id, Tenant: tenant, Hash: hashOf("secret-" + id), Hint: "…" + id,
		Name: "Key " + id, Description: "loader",
		Contact:     store.Contact{Login: "ada", FirstName: "Ada", LastName: "L", Email: "ada@example.com"},
		Permissions: []string{"invoices:read", "suppliers:write"},
		ExpiresAt:   &exp, Owner: store.OwnerTenant, Purpose: "sftp-loader",
		Status: store.StatusActive, ConvertedToClient: "c-" + id, DisableAt: &disable,
		Imported: true, CreatedAt: at(0), UpdatedAt: at(time.Second), LastUsedAt: &used,
	}
}

func normAPIKey(k store.APIKey) store.APIKey {
	k.Hash = bytesOrNil(k.Hash)
	k.Permissions = strs(k.Permissions)
	for _, p := range []**time.Time{&k.ExpiresAt, &k.DisableAt, &k.LastUsedAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	k.CreatedAt, k.UpdatedAt = utc(k.CreatedAt), utc(k.UpdatedAt)
	return k
}

func createAPIKeys(t *testing.T, s store.Store, keys ...store.APIKey) {
	t.Helper()
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		for _, k := range keys {
			if err := tx.CreateAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func testAPIKeyRoundTrip(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme")
	full := newAPIKey("k1", "acme")
	bare := store.APIKey{ID: "k2", Tenant: "acme", Hash: hashOf("k2")}
	createAPIKeys(t, s, full, bare)
	got, err := kr.GetAPIKey(t.Context(), "k1")
	noErr(t, "GetAPIKey", err)
	equal(t, "GetAPIKey", got, full, normAPIKey)
	checkUTC(t, "api key", got.CreatedAt, got.UpdatedAt, *got.ExpiresAt, *got.DisableAt, *got.LastUsedAt)

	got, err = kr.GetAPIKey(t.Context(), "k2")
	noErr(t, "GetAPIKey(bare)", err)
	if got.CreatedAt.IsZero() || got.ExpiresAt != nil || got.DisableAt != nil || got.LastUsedAt != nil {
		t.Fatalf("bare key read back as %+v", got)
	}
	_, err = kr.GetAPIKey(t.Context(), "nope")
	wantErr(t, "GetAPIKey(missing)", err, store.ErrNotFound)
}

func testAPIKeyByHash(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme")
	createAPIKeys(t, s, newAPIKey("k1", "acme"), newAPIKey("k2", "acme"))
	got, err := kr.GetAPIKeyByHash(t.Context(), hashOf("secret-k2"))
	noErr(t, "GetAPIKeyByHash", err)
	if got.ID != "k2" {
		t.Fatalf("GetAPIKeyByHash found %q, want k2", got.ID)
	}
	_, err = kr.GetAPIKeyByHash(t.Context(), hashOf("unknown"))
	wantErr(t, "GetAPIKeyByHash(unknown)", err, store.ErrNotFound)
}

func createAPIKeyErr(t *testing.T, s store.Store, k store.APIKey) error {
	t.Helper()
	return keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error { return tx.CreateAPIKey(ctx, k) })
}

func testAPIKeyDuplicateID(t *testing.T, s store.Store) {
	keyStore(t, s)
	createTenants(t, s, "acme")
	createAPIKeys(t, s, newAPIKey("k1", "acme"))
	k := newAPIKey("k1", "acme")
	k.Hash = hashOf("other")
	wantErr(t, "CreateAPIKey with a used id", createAPIKeyErr(t, s, k), store.ErrAlreadyExists)
}

func testAPIKeyDuplicateHash(t *testing.T, s store.Store) {
	keyStore(t, s)
	createTenants(t, s, "acme", "other")
	createAPIKeys(t, s, newAPIKey("k1", "acme"))
	k := newAPIKey("k2", "other")
	k.Hash = hashOf("secret-k1")
	err := createAPIKeyErr(t, s, k)
	wantErr(t, "CreateAPIKey with a used hash", err, store.ErrConflict)
}

func testAPIKeyMissingTenant(t *testing.T, s store.Store) {
	keyStore(t, s)
	err := createAPIKeyErr(t, s, newAPIKey("k1", "nope"))
	wantErr(t, "CreateAPIKey in a missing tenant", err, store.ErrNotFound)
}

func testAPIKeyList(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme", "other")
	platform := newAPIKey("k3", "acme")
	platform.Owner = store.OwnerPlatform
	disabled := newAPIKey("k4", "acme")
	disabled.Status = store.StatusDisabled
	createAPIKeys(t, s, newAPIKey("k2", "acme"), newAPIKey("k1", "acme"), platform, disabled,
		newAPIKey("k5", "other"))
	tests := []struct {
		name string
		f    store.APIKeyFilter
		want []string
	}{
		{"all, in id order", store.APIKeyFilter{}, []string{"k1", "k2", "k3", "k4", "k5"}},
		{"tenant", store.APIKeyFilter{Tenant: "other"}, []string{"k5"}},
		{"owner", store.APIKeyFilter{Owner: store.OwnerPlatform}, []string{"k3"}},
		{"status", store.APIKeyFilter{Tenant: "acme", Status: store.StatusActive}, []string{"k1", "k2", "k3"}},
		{"first page", store.APIKeyFilter{Limit: 2}, []string{"k1", "k2"}},
		{"next page", store.APIKeyFilter{After: "k2", Limit: 2}, []string{"k3", "k4"}},
		{"last page", store.APIKeyFilter{After: "k4", Limit: 2}, []string{"k5"}},
		{"no match", store.APIKeyFilter{Tenant: "nobody"}, nil},
	}
	for _, tc := range tests {
		got, err := kr.ListAPIKeys(t.Context(), tc.f)
		noErr(t, "ListAPIKeys "+tc.name, err)
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ListAPIKeys %s = %v, want %v", tc.name, ids, tc.want)
		}
	}
}

func testAPIKeyUpdate(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme")
	want := newAPIKey("k1", "acme")
	createAPIKeys(t, s, want)
	change := func(k store.APIKey) store.APIKey {
		k.Status, k.Permissions, k.ExpiresAt, k.DisableAt = store.StatusDisabled, nil, nil, nil
		k.UpdatedAt = at(time.Hour)
		return k
	}
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.UpdateAPIKey(ctx, "k1", func(k store.APIKey) (store.APIKey, error) {
			equal(t, "value passed to fn", k, want, normAPIKey)
			return change(k), nil
		})
	})
	got, err := kr.GetAPIKey(t.Context(), "k1")
	noErr(t, "GetAPIKey", err)
	equal(t, "updated key", got, change(want), normAPIKey)
}

func testAPIKeyUpdateFnError(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme")
	createAPIKeys(t, s, newAPIKey("k1", "acme"))
	err := keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.UpdateAPIKey(ctx, "k1", func(k store.APIKey) (store.APIKey, error) {
			k.Status = store.StatusRevoked
			return k, errFromFn
		})
	})
	wantErr(t, "UpdateAPIKey", err, errFromFn)
	got, err := kr.GetAPIKey(t.Context(), "k1")
	noErr(t, "GetAPIKey", err)
	equal(t, "key after failed update", got, newAPIKey("k1", "acme"), normAPIKey)
}

func testAPIKeyUpdateMissing(t *testing.T, s store.Store) {
	keyStore(t, s)
	err := keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.UpdateAPIKey(ctx, "nope", func(k store.APIKey) (store.APIKey, error) { return k, nil })
	})
	wantErr(t, "UpdateAPIKey", err, store.ErrNotFound)
}

func testAPIKeyDelete(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme")
	createAPIKeys(t, s, newAPIKey("k1", "acme"))
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error { return tx.DeleteAPIKey(ctx, "k1") })
	_, err := kr.GetAPIKey(t.Context(), "k1")
	wantErr(t, "GetAPIKey after delete", err, store.ErrNotFound)
	err = keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error { return tx.DeleteAPIKey(ctx, "k1") })
	wantErr(t, "DeleteAPIKey(missing)", err, store.ErrNotFound)
}

func testAPIKeyTenantCascade(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	createTenants(t, s, "acme", "other")
	createAPIKeys(t, s, newAPIKey("k1", "acme"), newAPIKey("k2", "other"))
	changes := s.Subscribe(t.Context())
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	expectChangeSet(t, changes,
		store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"},
		store.Change{Kind: store.ChangeAPIKey, ID: "k1", Tenant: "acme"})
	_, err := kr.GetAPIKey(t.Context(), "k1")
	wantErr(t, "GetAPIKey of a deleted tenant", err, store.ErrNotFound)
	_, err = kr.GetAPIKey(t.Context(), "k2")
	noErr(t, "GetAPIKey of the other tenant", err)
}

func testAPIKeyChanges(t *testing.T, s store.Store) {
	keyStore(t, s)
	createTenants(t, s, "acme")
	changes := s.Subscribe(t.Context())
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return errors.Join(
			tx.CreateAPIKey(ctx, newAPIKey("k1", "acme")),
			tx.UpdateAPIKey(ctx, "k1", func(k store.APIKey) (store.APIKey, error) { return k, nil }),
			tx.DeleteAPIKey(ctx, "k1"),
			tx.PutSetting(ctx, "timeline", []byte(`{}`)),
		)
	})
	k1 := store.Change{Kind: store.ChangeAPIKey, ID: "k1", Tenant: "acme"}
	expectChanges(t, changes, k1, k1, k1, store.Change{Kind: store.ChangeSetting, ID: "timeline"})
}

var settingTests = []test{
	{"Get_Missing_NotFound", func(t *testing.T, s store.Store) {
		_, err := keyStore(t, s).GetSetting(t.Context(), "timeline")
		wantErr(t, "GetSetting", err, store.ErrNotFound)
	}},
	{"Put_ThenReplace", testSettingPut},
}

func testSettingPut(t *testing.T, s store.Store) {
	kr := keyStore(t, s)
	for _, v := range []string{`{"keys_off_at":"2027-01-01T00:00:00Z"}`, `{}`} {
		mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
			return tx.PutSetting(ctx, "timeline", []byte(v))
		})
		got, err := kr.GetSetting(t.Context(), "timeline")
		noErr(t, "GetSetting", err)
		if string(got) != v {
			t.Fatalf("GetSetting = %s, want %s", got, v)
		}
	}
}

// testAPIKeyBulkCreate checks the bulk path the store copy uses: keys read
// back as CreateAPIKey writes them, are counted and announced, and a
// duplicate fails the whole batch.
func testAPIKeyBulkCreate(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	full := newAPIKey("k1", "acme")
	bare := store.APIKey{ID: "k2", Tenant: "acme", Hash: hashOf("k2")}
	changes := s.Subscribe(t.Context())
	mustKeyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.CreateAPIKeys(ctx, []store.APIKey{full, bare})
	})
	expectChangeSet(t, changes,
		store.Change{Kind: store.ChangeAPIKey, ID: "k1", Tenant: "acme"},
		store.Change{Kind: store.ChangeAPIKey, ID: "k2", Tenant: "acme"})
	got, err := s.GetAPIKey(t.Context(), "k1")
	noErr(t, "GetAPIKey", err)
	equal(t, "GetAPIKey", got, full, normAPIKey)
	got, err = s.GetAPIKey(t.Context(), "k2")
	noErr(t, "GetAPIKey(bare)", err)
	if got.CreatedAt.IsZero() || got.ExpiresAt != nil {
		t.Fatalf("bare key read back as %+v", got)
	}
	n, err := s.CountAPIKeys(t.Context())
	noErr(t, "CountAPIKeys", err)
	if n != 2 {
		t.Fatalf("CountAPIKeys = %d, want 2", n)
	}
	err = keyWrite(t, s, func(ctx context.Context, tx store.KeyTx) error {
		return tx.CreateAPIKeys(ctx, []store.APIKey{newAPIKey("k3", "acme"), newAPIKey("k1", "acme")})
	})
	if err == nil {
		t.Fatal("CreateAPIKeys with a duplicate id succeeded")
	}
	_, err = s.GetAPIKey(t.Context(), "k3")
	wantErr(t, "GetAPIKey of the failed batch", err, store.ErrNotFound)
}
