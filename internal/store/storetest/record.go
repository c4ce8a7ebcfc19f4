package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var signingKeyTests = []test{
	{"CreateGet_RoundTrip", testKeyRoundTrip},
	{"Create_Duplicate_AlreadyExists", testKeyDuplicate},
	{"Get_Missing_NotFound", testKeyGetMissing},
	{"List_ReturnsAll", testKeyList},
	{"Update_WritesFnResult", testKeyUpdate},
	{"Update_FnError_NothingWritten", testKeyUpdateFnError},
	{"Update_Missing_NotFound", testKeyUpdateMissing},
	{"Delete_RemovesIt", testKeyDelete},
	{"Delete_Missing_NotFound", testKeyDeleteMissing},
}

func createKeys(t *testing.T, s store.Store, keys ...store.SigningKey) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, k := range keys {
			if err := tx.CreateSigningKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func testKeyRoundTrip(t *testing.T, s store.Store) {
	next := newKey("k-next")
	retired := newKey("k-retired")
	retired.State, retired.Use = store.KeyRetired, "id_token"
	retired.RetiredAt, retired.PublishUntil = at(2*time.Hour), at(26*time.Hour)
	createKeys(t, s, next, retired)
	for _, want := range []store.SigningKey{next, retired} {
		got, err := s.GetSigningKey(t.Context(), want.ID)
		noErr(t, "GetSigningKey", err)
		equal(t, "GetSigningKey", got, want, normKey)
		checkUTC(t, "signing key", got.CreatedAt, got.ActivateAt)
	}
	got, err := s.GetSigningKey(t.Context(), next.ID)
	noErr(t, "GetSigningKey", err)
	if !got.RetiredAt.IsZero() || !got.PublishUntil.IsZero() {
		t.Fatalf("zero times read back as %v and %v", got.RetiredAt, got.PublishUntil)
	}
}

func testKeyDuplicate(t *testing.T, s store.Store) {
	createKeys(t, s, newKey("k1"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateSigningKey(ctx, newKey("k1"))
	})
	wantErr(t, "second CreateSigningKey", err, store.ErrAlreadyExists)
}

func testKeyGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetSigningKey(t.Context(), "nope")
	wantErr(t, "GetSigningKey", err, store.ErrNotFound)
}

func testKeyList(t *testing.T, s store.Store) {
	createKeys(t, s, newKey("k2"), newKey("k1"), newKey("k3"))
	got, err := s.ListSigningKeys(t.Context())
	noErr(t, "ListSigningKeys", err)
	var ids []string
	for _, k := range got {
		ids = append(ids, k.ID)
		equal(t, "listed key", k, newKey(k.ID), normKey)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"k1", "k2", "k3"}) {
		t.Fatalf("ListSigningKeys ids = %v", ids)
	}
}

func retire(k store.SigningKey) store.SigningKey {
	k.State = store.KeyRetired
	k.RetiredAt, k.PublishUntil = at(3*time.Hour), at(27*time.Hour)
	return k
}

func testKeyUpdate(t *testing.T, s store.Store) {
	createKeys(t, s, newKey("k1"))
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateSigningKey(ctx, "k1", func(k store.SigningKey) (store.SigningKey, error) {
			equal(t, "value passed to fn", k, newKey("k1"), normKey)
			return retire(k), nil
		})
	})
	got, err := s.GetSigningKey(t.Context(), "k1")
	noErr(t, "GetSigningKey", err)
	equal(t, "updated key", got, retire(newKey("k1")), normKey)
}

func testKeyUpdateFnError(t *testing.T, s store.Store) {
	createKeys(t, s, newKey("k1"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateSigningKey(ctx, "k1", func(k store.SigningKey) (store.SigningKey, error) {
			return retire(k), errFromFn
		})
	})
	wantErr(t, "UpdateSigningKey", err, errFromFn)
	got, err := s.GetSigningKey(t.Context(), "k1")
	noErr(t, "GetSigningKey", err)
	equal(t, "key after failed update", got, newKey("k1"), normKey)
}

func testKeyUpdateMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateSigningKey(ctx, "nope", func(k store.SigningKey) (store.SigningKey, error) { return k, nil })
	})
	wantErr(t, "UpdateSigningKey", err, store.ErrNotFound)
}

func testKeyDelete(t *testing.T, s store.Store) {
	createKeys(t, s, newKey("k1"), newKey("k2"))
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSigningKey(ctx, "k1") })
	_, err := s.GetSigningKey(t.Context(), "k1")
	wantErr(t, "GetSigningKey after delete", err, store.ErrNotFound)
	_, err = s.GetSigningKey(t.Context(), "k2")
	noErr(t, "GetSigningKey of the other key", err)
}

func testKeyDeleteMissing(t *testing.T, s store.Store) {
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSigningKey(ctx, "nope") })
	wantErr(t, "DeleteSigningKey", err, store.ErrNotFound)
}

var revocationTests = []test{
	{"CreateGet_RoundTrip", testRevocationRoundTrip},
	{"Create_Twice_KeepsFirstWithoutError", testRevocationIdempotent},
	{"Get_Missing_NotFound", testRevocationGetMissing},
	{"List_OmitsExpired", testRevocationList},
	{"DeleteExpired_RemovesOnlyExpired", testRevocationDeleteExpired},
}

func newRevocation(jti string, expires time.Duration) store.Revocation {
	return store.Revocation{JTI: jti, Tenant: "acme", ClientID: "c1",
		RevokedAt: at(0), ExpiresAt: at(expires)}
}

func createRevocations(t *testing.T, s store.Store, rs ...store.Revocation) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, r := range rs {
			if err := tx.CreateRevocation(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

func testRevocationRoundTrip(t *testing.T, s store.Store) {
	want := newRevocation("j1", time.Hour)
	createRevocations(t, s, want)
	got, err := s.GetRevocation(t.Context(), "j1")
	noErr(t, "GetRevocation", err)
	equal(t, "GetRevocation", got, want, normRevocation)
	checkUTC(t, "revocation", got.RevokedAt, got.ExpiresAt)
}

func testRevocationIdempotent(t *testing.T, s store.Store) {
	first := newRevocation("j1", time.Hour)
	createRevocations(t, s, first)
	again := newRevocation("j1", 2*time.Hour)
	again.RevokedAt = at(time.Minute)
	createRevocations(t, s, again)
	got, err := s.GetRevocation(t.Context(), "j1")
	noErr(t, "GetRevocation", err)
	equal(t, "revocation after a second revoke", got, first, normRevocation)
}

func testRevocationGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetRevocation(t.Context(), "nope")
	wantErr(t, "GetRevocation", err, store.ErrNotFound)
}

func revocationJTIs(rs []store.Revocation) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.JTI)
	}
	slices.Sort(ids)
	return ids
}

func testRevocationList(t *testing.T, s store.Store) {
	createRevocations(t, s, newRevocation("past", -time.Hour), newRevocation("now", 0),
		newRevocation("soon", time.Microsecond), newRevocation("later", time.Hour))
	tests := []struct {
		now  time.Time
		want []string
	}{
		{at(-2 * time.Hour), []string{"later", "now", "past", "soon"}},
		// A token is expired at its expiry instant.
		{at(0), []string{"later", "soon"}},
		{at(time.Minute), []string{"later"}},
		{at(time.Hour), nil},
	}
	for _, tc := range tests {
		got, err := s.ListRevocations(t.Context(), tc.now)
		noErr(t, "ListRevocations", err)
		if ids := revocationJTIs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("ListRevocations(%v) = %v, want %v", tc.now, ids, tc.want)
		}
	}
}

func testRevocationDeleteExpired(t *testing.T, s store.Store) {
	createRevocations(t, s, newRevocation("past", -time.Hour), newRevocation("now", 0),
		newRevocation("later", time.Hour))
	var n int
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredRevocations(ctx, at(0))
		return err
	})
	if n != 2 {
		t.Errorf("DeleteExpiredRevocations = %d, want 2", n)
	}
	for _, jti := range []string{"past", "now"} {
		_, err := s.GetRevocation(t.Context(), jti)
		wantErr(t, "GetRevocation("+jti+")", err, store.ErrNotFound)
	}
	_, err := s.GetRevocation(t.Context(), "later")
	noErr(t, "GetRevocation(later)", err)
}

var auditTests = []test{
	{"Append_EmptyIDAndTime_Filled", testAuditDefaults},
	{"Append_RoundTrip", testAuditRoundTrip},
	{"Append_DuplicateID_AlreadyExists", testAuditDuplicate},
	{"List_NewestFirst", testAuditOrder},
	{"List_Filters", testAuditFilters},
	{"List_DefaultLimit100", testAuditDefaultLimit},
}

func appendAudit(t *testing.T, s store.Store, events ...store.AuditEvent) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, e := range events {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func newEvent(id string, d time.Duration, tenant, action, object string) store.AuditEvent {
	return store.AuditEvent{ID: id, Time: at(d), Actor: "admin-client", ActorTenant: "platform",
		Tenant: tenant, Action: action, ObjectType: "client", ObjectID: object,
		RemoteAddr: "192.0.2.1:5000", Details: []byte(`{"name":"x"}`)}
}

func testAuditDefaults(t *testing.T, s store.Store) {
	appendAudit(t, s, store.AuditEvent{Action: "tenant.create"}, store.AuditEvent{Action: "tenant.create"})
	got, err := s.ListAudit(t.Context(), store.AuditFilter{})
	noErr(t, "ListAudit", err)
	if len(got) != 2 {
		t.Fatalf("ListAudit = %d events, want 2", len(got))
	}
	for _, e := range got {
		if e.ID == "" || e.Time.IsZero() {
			t.Fatalf("event not completed: %+v", e)
		}
		checkUTC(t, "audit time", e.Time)
	}
	if got[0].ID == got[1].ID {
		t.Fatalf("two events got the same id %q", got[0].ID)
	}
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	want := newEvent("e1", 0, "acme", "client.create", "c1")
	bare := store.AuditEvent{ID: "e2", Time: at(time.Second), Action: "scope.put"}
	appendAudit(t, s, want, bare)
	got, err := s.ListAudit(t.Context(), store.AuditFilter{})
	noErr(t, "ListAudit", err)
	if len(got) != 2 {
		t.Fatalf("ListAudit = %d events, want 2", len(got))
	}
	equal(t, "bare event", got[0], bare, normAudit)
	equal(t, "full event", got[1], want, normAudit)
}

func testAuditDuplicate(t *testing.T, s store.Store) {
	appendAudit(t, s, newEvent("e1", 0, "acme", "client.create", "c1"))
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, newEvent("e1", time.Second, "acme", "client.update", "c1"))
	})
	wantErr(t, "AppendAudit with a used id", err, store.ErrAlreadyExists)
}

func eventIDs(es []store.AuditEvent) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func testAuditOrder(t *testing.T, s store.Store) {
	appendAudit(t, s, newEvent("b", 2*time.Second, "acme", "x", "o"),
		newEvent("a", time.Second, "acme", "x", "o"))
	appendAudit(t, s, newEvent("c", 3*time.Second, "acme", "x", "o"))
	got, err := s.ListAudit(t.Context(), store.AuditFilter{})
	noErr(t, "ListAudit", err)
	if ids := eventIDs(got); !slices.Equal(ids, []string{"c", "b", "a"}) {
		t.Fatalf("ListAudit order = %v, want [c b a]", ids)
	}
}

func testAuditFilters(t *testing.T, s store.Store) {
	appendAudit(t, s,
		newEvent("e1", 1*time.Second, "acme", "client.create", "c1"),
		newEvent("e2", 2*time.Second, "acme", "client.update", "c1"),
		newEvent("e3", 3*time.Second, "other", "client.create", "c9"),
		newEvent("e4", 4*time.Second, "", "scope.put", "core.invoice.read"),
		newEvent("e5", 5*time.Second, "acme", "client.delete", "c2"),
	)
	tests := []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"all", store.AuditFilter{}, []string{"e5", "e4", "e3", "e2", "e1"}},
		{"tenant", store.AuditFilter{Tenant: "acme"}, []string{"e5", "e2", "e1"}},
		{"action", store.AuditFilter{Action: "client.create"}, []string{"e3", "e1"}},
		{"object", store.AuditFilter{ObjectID: "c1"}, []string{"e2", "e1"}},
		{"before is exclusive", store.AuditFilter{Before: at(4 * time.Second)}, []string{"e3", "e2", "e1"}},
		{"limit", store.AuditFilter{Limit: 2}, []string{"e5", "e4"}},
		{"page", store.AuditFilter{Before: at(3 * time.Second), Limit: 1}, []string{"e2"}},
		{"combined", store.AuditFilter{Tenant: "acme", Action: "client.create", ObjectID: "c1"}, []string{"e1"}},
		{"no match", store.AuditFilter{Tenant: "nobody"}, nil},
	}
	for _, tc := range tests {
		got, err := s.ListAudit(t.Context(), tc.f)
		noErr(t, "ListAudit "+tc.name, err)
		if ids := eventIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("ListAudit %s = %v, want %v", tc.name, ids, tc.want)
		}
	}
}

func testAuditDefaultLimit(t *testing.T, s store.Store) {
	var events []store.AuditEvent
	for i := range 105 {
		events = append(events, newEvent("", time.Duration(i)*time.Millisecond, "acme", "x", "o"))
	}
	appendAudit(t, s, events...)
	got, err := s.ListAudit(t.Context(), store.AuditFilter{})
	noErr(t, "ListAudit", err)
	if len(got) != 100 {
		t.Fatalf("ListAudit without limit = %d events, want 100", len(got))
	}
	if !got[0].Time.Equal(at(104 * time.Millisecond)) {
		t.Fatalf("first event at %v, want the newest %v", got[0].Time, at(104*time.Millisecond))
	}
	got, err = s.ListAudit(t.Context(), store.AuditFilter{Limit: 200})
	noErr(t, "ListAudit", err)
	if len(got) != 105 {
		t.Fatalf("ListAudit with limit 200 = %d events, want 105", len(got))
	}
}
