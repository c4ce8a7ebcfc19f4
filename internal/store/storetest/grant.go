package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Grant records: per-record behaviour here; the checks every kind shares
// in grant_kinds.go; collection, assertions, cascades and concurrency in
// grant_life.go.
var grantTests = []test{
	{"AuthCode_CreateGet_RoundTripsEveryField", testAuthCodeRoundTrip},
	{"AuthCode_Update_WritesFnResult", testAuthCodeUpdate},
	{"AuthCode_Update_HashChanged_NothingWritten", testAuthCodeUpdateHashChanged},
	{"AuthCode_ConcurrentRedemption_OneWinner", testAuthCodeConcurrentRedemption},
	{"RefreshFamily_CreateGet_RoundTripsEveryField", testFamilyRoundTrip},
	{"RefreshFamily_Update_Rotates", testFamilyUpdate},
	{"RefreshFamily_List_OneUserInCreationOrder", testFamilyList},
	{"DeviceCode_CreateGet_ByHashAndUserCode", testDeviceCodeRoundTrip},
	{"DeviceCode_Create_UserCodeTaken_Conflict", testDeviceCodeUserCodeConflict},
	{"DeviceCode_Update_Approves", testDeviceCodeUpdate},
	{"Session_CreateGet_ByHashAndID", testSessionRoundTrip},
	{"Session_Create_IDTaken_Conflict", testSessionIDConflict},
	{"Session_Delete_RemovesIt", testSessionDelete},
	{"Consent_Put_CreatesThenReplaces", testConsentPut},
	{"Consent_List_OneUserInClientOrder", testConsentList},
	{"Consent_Delete_RemovesIt", testConsentDelete},
	{"Create_ZeroCreatedAt_FromClock", testGrantCreatedAtDefault},
	{"Create_ExistingKey_AlreadyExists", testGrantDuplicate},
	{"Create_MissingTenantClientOrUser_NotFound", testGrantMissingOwner},
	{"Get_Missing_NotFound", testGrantGetMissing},
	{"Update_Missing_NotFound", testGrantUpdateMissing},
	{"Update_FnError_NothingWritten", testGrantUpdateFnError},
	{"ClientAssertion_AcceptedOnceUntilCollected", testAssertionOnce},
	{"ClientAssertion_Expired_AcceptedAgain", testAssertionExpired},
	{"ClientAssertion_MissingClient_NotFound", testAssertionMissingClient},
	{"DeleteExpired_RemovesExactlyTheExpired", testGrantDeleteExpired},
	{"Delete_TenantUserOrClient_TakesItsGrants", testGrantCascade},
	{"Writes_PublishNothing", testGrantNoChanges},
	{"Client_OIDCFields_UpdateAndList", testClientOIDCFields},
}

// grantTenant is the tenant of the fixture's clients and users: c3 and u3
// belong to "other", the rest to "acme".
func grantTenant(clientOrUser string) string {
	if clientOrUser == "c3" || clientOrUser == "u3" {
		return "other"
	}
	return "acme"
}

// grantFixture creates tenants acme and other, clients c1, c2 (acme) and c3
// (other), users u1, u2 (acme) and u3 (other).
func grantFixture(t *testing.T, s store.Store) {
	t.Helper()
	createTenants(t, s, "acme", "other")
	createClients(t, s, newClient("c1", "acme", "l1"), newClient("c2", "acme", "l2"),
		newClient("c3", "other", "l3"))
	createUsers(t, s, newUser("u1", "acme", "ada"), newUser("u2", "acme", "bob"),
		newUser("u3", "other", "cy"))
}

func newAuthCode(name, client, user string) store.AuthCode {
	return store.AuthCode{
		Hash: hashOf("code-" + name), Tenant: grantTenant(client), ClientID: client, UserID: user,
		SessionID: "sid-" + name, RedirectURI: "https://app.example.com/cb",
		Scopes: []string{"openid", "profile"}, Nonce: "nonce-" + name,
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		AuthTime:      at(-time.Minute), CreatedAt: at(0), ExpiresAt: at(time.Minute),
	}
}

func normAuthCode(c store.AuthCode) store.AuthCode {
	c.Hash, c.Scopes = bytesOrNil(c.Hash), strs(c.Scopes)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = utc(c.AuthTime), utc(c.CreatedAt), utc(c.ExpiresAt)
	c.IssuedExpiresAt, c.RedeemedAt = utc(c.IssuedExpiresAt), utcPtr(c.RedeemedAt)
	return c
}

func newFamily(id, client, user string) store.RefreshFamily {
	return store.RefreshFamily{
		ID: id, Tenant: grantTenant(client), ClientID: client, UserID: user, SessionID: "sid-" + id,
		Scopes: []string{"openid", "offline_access"}, AuthTime: at(-time.Minute),
		CurrentHash: hashOf("rt-" + id + "-1"), Generation: 1,
		LastJTI: "jti-" + id, LastJTIExpiresAt: at(time.Hour),
		CreatedAt: at(0), ExpiresAt: at(30 * 24 * time.Hour),
	}
}

func normFamily(f store.RefreshFamily) store.RefreshFamily {
	f.Scopes, f.CurrentHash, f.PreviousHash = strs(f.Scopes), bytesOrNil(f.CurrentHash), bytesOrNil(f.PreviousHash)
	f.AuthTime, f.RotatedAt, f.LastJTIExpiresAt = utc(f.AuthTime), utc(f.RotatedAt), utc(f.LastJTIExpiresAt)
	f.CreatedAt, f.ExpiresAt, f.RevokedAt = utc(f.CreatedAt), utc(f.ExpiresAt), utcPtr(f.RevokedAt)
	return f
}

// newDeviceCode returns a pending device code without a user, or an
// approved one with user.
func newDeviceCode(name, client, user string) store.DeviceCode {
	d := store.DeviceCode{
		Hash: hashOf("dc-" + name), UserCodeHash: hashOf("uc-" + name),
		Tenant: grantTenant(client), ClientID: client, Scopes: []string{"openid"},
		Status: store.DevicePending, Interval: 5 * time.Second,
		CreatedAt: at(0), ExpiresAt: at(10 * time.Minute),
	}
	if user != "" {
		d.Status, d.UserID, d.SessionID, d.AuthTime = store.DeviceApproved, user, "sid-"+name, at(time.Minute)
		d.LastPolledAt = at(30 * time.Second)
	}
	return d
}

func normDeviceCode(d store.DeviceCode) store.DeviceCode {
	d.Hash, d.UserCodeHash, d.Scopes = bytesOrNil(d.Hash), bytesOrNil(d.UserCodeHash), strs(d.Scopes)
	d.AuthTime, d.LastPolledAt = utc(d.AuthTime), utc(d.LastPolledAt)
	d.CreatedAt, d.ExpiresAt = utc(d.CreatedAt), utc(d.ExpiresAt)
	return d
}

func newSession(id, user string) store.Session {
	return store.Session{Hash: hashOf("cookie-" + id), ID: id, Tenant: grantTenant(user), UserID: user,
		AuthTime: at(-time.Second), CreatedAt: at(0), ExpiresAt: at(12 * time.Hour)}
}

func normSession(v store.Session) store.Session {
	v.Hash = bytesOrNil(v.Hash)
	v.AuthTime, v.CreatedAt, v.ExpiresAt = utc(v.AuthTime), utc(v.CreatedAt), utc(v.ExpiresAt)
	return v
}

func newConsent(client, user string) store.Consent {
	return store.Consent{Tenant: grantTenant(user), UserID: user, ClientID: client,
		Scopes: []string{"openid", "email"}, CreatedAt: at(0), UpdatedAt: at(time.Second)}
}

func normConsent(c store.Consent) store.Consent {
	c.Scopes = strs(c.Scopes)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return c
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func testAuthCodeRoundTrip(t *testing.T, s store.Store) {
	grantFixture(t, s)
	redeemed := newAuthCode("redeemed", "c2", "u2")
	r := at(30 * time.Second)
	redeemed.RedeemedAt, redeemed.IssuedJTI, redeemed.IssuedExpiresAt = &r, "jti-1", at(time.Hour)
	redeemed.IssuedFamily = "fam-1"
	for _, want := range []store.AuthCode{newAuthCode("fresh", "c1", "u1"), redeemed} {
		write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateAuthCode(ctx, want) })
		got, err := s.GetAuthCode(t.Context(), want.Hash)
		noErr(t, "GetAuthCode", err)
		checkUTC(t, "auth code", got.AuthTime, got.CreatedAt, got.ExpiresAt, got.IssuedExpiresAt)
		equal(t, "GetAuthCode "+want.Nonce, got, want, normAuthCode)
	}
}

func testAuthCodeUpdate(t *testing.T, s store.Store) {
	grantFixture(t, s)
	c := newAuthCode("a", "c1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateAuthCode(ctx, c) })
	var want store.AuthCode
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateAuthCode(ctx, c.Hash, func(c store.AuthCode) (store.AuthCode, error) {
			r := at(10 * time.Second)
			c.RedeemedAt, c.IssuedJTI, c.IssuedExpiresAt, c.IssuedFamily = &r, "jti-9", at(time.Hour), "fam-9"
			want = c
			return c, nil
		})
	})
	got, err := s.GetAuthCode(t.Context(), c.Hash)
	noErr(t, "GetAuthCode", err)
	equal(t, "redeemed auth code", got, want, normAuthCode)
	if got.RedeemedAt == nil {
		t.Fatal("RedeemedAt not written")
	}
	checkUTC(t, "RedeemedAt", *got.RedeemedAt)
}

func testAuthCodeUpdateHashChanged(t *testing.T, s store.Store) {
	grantFixture(t, s)
	c := newAuthCode("a", "c1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateAuthCode(ctx, c) })
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateAuthCode(ctx, c.Hash, func(c store.AuthCode) (store.AuthCode, error) {
			c.Hash, c.Nonce = hashOf("other"), "changed"
			return c, nil
		})
	})
	if err == nil {
		t.Fatal("UpdateAuthCode changing the hash succeeded")
	}
	got, err := s.GetAuthCode(t.Context(), c.Hash)
	noErr(t, "GetAuthCode", err)
	equal(t, "auth code after refused update", got, c, normAuthCode)
	_, err = s.GetAuthCode(t.Context(), hashOf("other"))
	wantErr(t, "GetAuthCode of the changed hash", err, store.ErrNotFound)
}

func testFamilyRoundTrip(t *testing.T, s store.Store) {
	grantFixture(t, s)
	revoked := newFamily("f2", "c2", "u2")
	r := at(2 * time.Hour)
	revoked.PreviousHash, revoked.CurrentHash = revoked.CurrentHash, hashOf("rt-f2-2")
	revoked.RotatedAt, revoked.Generation = at(time.Hour), 2
	revoked.RevokedAt, revoked.RevokeReason = &r, "reuse"
	for _, want := range []store.RefreshFamily{newFamily("f1", "c1", "u1"), revoked} {
		write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateRefreshFamily(ctx, want) })
		got, err := s.GetRefreshFamily(t.Context(), want.ID)
		noErr(t, "GetRefreshFamily", err)
		checkUTC(t, "refresh family", got.AuthTime, got.RotatedAt, got.LastJTIExpiresAt,
			got.CreatedAt, got.ExpiresAt)
		equal(t, "GetRefreshFamily "+want.ID, got, want, normFamily)
	}
}

func testFamilyUpdate(t *testing.T, s store.Store) {
	grantFixture(t, s)
	f := newFamily("f1", "c1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateRefreshFamily(ctx, f) })
	var want store.RefreshFamily
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateRefreshFamily(ctx, "f1", func(f store.RefreshFamily) (store.RefreshFamily, error) {
			f.PreviousHash, f.CurrentHash = f.CurrentHash, hashOf("rt-f1-2")
			f.RotatedAt, f.Generation, f.LastJTI, f.LastJTIExpiresAt = at(time.Hour), 2, "jti-2", at(2*time.Hour)
			want = f
			return f, nil
		})
	})
	got, err := s.GetRefreshFamily(t.Context(), "f1")
	noErr(t, "GetRefreshFamily", err)
	equal(t, "rotated family", got, want, normFamily)

	err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateRefreshFamily(ctx, "f1", func(f store.RefreshFamily) (store.RefreshFamily, error) {
			f.ID = "f9"
			return f, nil
		})
	})
	if err == nil {
		t.Fatal("UpdateRefreshFamily changing the id succeeded")
	}
	_, err = s.GetRefreshFamily(t.Context(), "f9")
	wantErr(t, "GetRefreshFamily of the changed id", err, store.ErrNotFound)
}

func testFamilyList(t *testing.T, s store.Store) {
	grantFixture(t, s)
	// Created out of id order; f3 is revoked and still listed.
	fams := []store.RefreshFamily{newFamily("f3", "c1", "u1"), newFamily("f1", "c2", "u1"),
		newFamily("f2", "c1", "u1"), newFamily("f4", "c1", "u2"), newFamily("f5", "c3", "u3")}
	for i := range fams {
		fams[i].CreatedAt = at(time.Duration(i) * time.Second)
	}
	r := at(time.Hour)
	fams[0].RevokedAt, fams[0].RevokeReason = &r, "logout"
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, f := range fams {
			if err := tx.CreateRefreshFamily(ctx, f); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name                   string
		tenant, user, clientID string
		want                   []string
	}{
		{"every client", "acme", "u1", "", []string{"f3", "f1", "f2"}},
		{"one client", "acme", "u1", "c1", []string{"f3", "f2"}},
		{"other user", "acme", "u2", "", []string{"f4"}},
		{"user in another tenant", "acme", "u3", "", nil},
		{"unknown user", "acme", "nobody", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRefreshFamilies(t.Context(), tc.tenant, tc.user, tc.clientID)
			noErr(t, "ListRefreshFamilies", err)
			var ids []string
			for _, f := range got {
				ids = append(ids, f.ID)
			}
			if !equalStrings(ids, tc.want) {
				t.Fatalf("ListRefreshFamilies(%s, %s, %q) = %v, want %v", tc.tenant, tc.user, tc.clientID, ids, tc.want)
			}
			if len(got) > 0 && got[0].ID == "f3" {
				equal(t, "listed f3", got[0], fams[0], normFamily)
			}
		})
	}
}

func testDeviceCodeRoundTrip(t *testing.T, s store.Store) {
	grantFixture(t, s)
	// A pending code has no user yet; an approved one has.
	for _, want := range []store.DeviceCode{newDeviceCode("pending", "c1", ""), newDeviceCode("approved", "c2", "u2")} {
		write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateDeviceCode(ctx, want) })
		got, err := s.GetDeviceCode(t.Context(), want.Hash)
		noErr(t, "GetDeviceCode", err)
		checkUTC(t, "device code", got.AuthTime, got.LastPolledAt, got.CreatedAt, got.ExpiresAt)
		equal(t, "GetDeviceCode "+want.Status, got, want, normDeviceCode)
		got, err = s.GetDeviceCodeByUserCode(t.Context(), want.UserCodeHash)
		noErr(t, "GetDeviceCodeByUserCode", err)
		equal(t, "GetDeviceCodeByUserCode "+want.Status, got, want, normDeviceCode)
	}
}

func testDeviceCodeUserCodeConflict(t *testing.T, s store.Store) {
	grantFixture(t, s)
	first, second := newDeviceCode("a", "c1", ""), newDeviceCode("b", "c2", "")
	second.UserCodeHash = first.UserCodeHash
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateDeviceCode(ctx, first) })
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateDeviceCode(ctx, second) })
	wantErr(t, "CreateDeviceCode with a taken user code", err, store.ErrConflict)
	_, err = s.GetDeviceCode(t.Context(), second.Hash)
	wantErr(t, "GetDeviceCode of the refused code", err, store.ErrNotFound)

	// Updating to a taken user code is refused the same way.
	third := newDeviceCode("c", "c1", "")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateDeviceCode(ctx, third) })
	err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateDeviceCode(ctx, third.Hash, func(d store.DeviceCode) (store.DeviceCode, error) {
			d.UserCodeHash = first.UserCodeHash
			return d, nil
		})
	})
	wantErr(t, "UpdateDeviceCode to a taken user code", err, store.ErrConflict)
}

func testDeviceCodeUpdate(t *testing.T, s store.Store) {
	grantFixture(t, s)
	d := newDeviceCode("a", "c1", "")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateDeviceCode(ctx, d) })
	var want store.DeviceCode
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateDeviceCode(ctx, d.Hash, func(d store.DeviceCode) (store.DeviceCode, error) {
			d.Status, d.UserID, d.SessionID, d.AuthTime = store.DeviceApproved, "u1", "sid-1", at(time.Minute)
			d.Interval, d.LastPolledAt = 10*time.Second, at(50*time.Second)
			want = d
			return d, nil
		})
	})
	got, err := s.GetDeviceCode(t.Context(), d.Hash)
	noErr(t, "GetDeviceCode", err)
	equal(t, "approved device code", got, want, normDeviceCode)

	err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateDeviceCode(ctx, d.Hash, func(d store.DeviceCode) (store.DeviceCode, error) {
			d.Hash = hashOf("other")
			return d, nil
		})
	})
	if err == nil {
		t.Fatal("UpdateDeviceCode changing the hash succeeded")
	}
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	grantFixture(t, s)
	want := newSession("s1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateSession(ctx, want) })
	got, err := s.GetSession(t.Context(), want.Hash)
	noErr(t, "GetSession", err)
	checkUTC(t, "session", got.AuthTime, got.CreatedAt, got.ExpiresAt)
	equal(t, "GetSession", got, want, normSession)
	got, err = s.GetSessionByID(t.Context(), "s1")
	noErr(t, "GetSessionByID", err)
	equal(t, "GetSessionByID", got, want, normSession)
}

func testSessionIDConflict(t *testing.T, s store.Store) {
	grantFixture(t, s)
	first, second := newSession("s1", "u1"), newSession("s2", "u2")
	second.ID = "s1"
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateSession(ctx, first) })
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateSession(ctx, second) })
	wantErr(t, "CreateSession with a taken public id", err, store.ErrConflict)
}

func testSessionDelete(t *testing.T, s store.Store) {
	grantFixture(t, s)
	sess := newSession("s1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateSession(ctx, sess) })
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSession(ctx, sess.Hash) })
	_, err := s.GetSession(t.Context(), sess.Hash)
	wantErr(t, "GetSession after delete", err, store.ErrNotFound)
	_, err = s.GetSessionByID(t.Context(), "s1")
	wantErr(t, "GetSessionByID after delete", err, store.ErrNotFound)
	err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSession(ctx, sess.Hash) })
	wantErr(t, "DeleteSession twice", err, store.ErrNotFound)
	// The public id is free again.
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateSession(ctx, newSession("s1", "u2"))
	})
}

func testConsentPut(t *testing.T, s store.Store) {
	grantFixture(t, s)
	first := newConsent("c1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutConsent(ctx, first) })
	got, err := s.GetConsent(t.Context(), "acme", "u1", "c1")
	noErr(t, "GetConsent", err)
	checkUTC(t, "consent", got.CreatedAt, got.UpdatedAt)
	equal(t, "GetConsent", got, first, normConsent)

	// A replacement changes the scopes and update time, not the creation.
	second := first
	second.Scopes, second.CreatedAt, second.UpdatedAt = []string{"openid", "profile", "email"}, at(time.Hour), at(time.Hour)
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutConsent(ctx, second) })
	got, err = s.GetConsent(t.Context(), "acme", "u1", "c1")
	noErr(t, "GetConsent after replace", err)
	want := second
	want.CreatedAt = first.CreatedAt
	equal(t, "replaced consent", got, want, normConsent)
	list, err := s.ListConsents(t.Context(), "acme", "u1")
	noErr(t, "ListConsents", err)
	if len(list) != 1 {
		t.Fatalf("ListConsents after replace = %d consents, want 1", len(list))
	}
}

func testConsentList(t *testing.T, s store.Store) {
	grantFixture(t, s)
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.PutConsent(ctx, newConsent("c2", "u1")), tx.PutConsent(ctx, newConsent("c1", "u1")),
			tx.PutConsent(ctx, newConsent("c1", "u2")), tx.PutConsent(ctx, newConsent("c3", "u3")))
	})
	tests := []struct {
		tenant, user string
		want         []string
	}{
		{"acme", "u1", []string{"c1", "c2"}},
		{"acme", "u2", []string{"c1"}},
		{"acme", "u3", nil},
		{"other", "u3", []string{"c3"}},
	}
	for _, tc := range tests {
		got, err := s.ListConsents(t.Context(), tc.tenant, tc.user)
		noErr(t, "ListConsents", err)
		var ids []string
		for _, c := range got {
			if c.UserID != tc.user || c.Tenant != tc.tenant {
				t.Fatalf("ListConsents(%s, %s) holds %+v", tc.tenant, tc.user, c)
			}
			ids = append(ids, c.ClientID)
		}
		if !equalStrings(ids, tc.want) {
			t.Fatalf("ListConsents(%s, %s) = %v, want %v", tc.tenant, tc.user, ids, tc.want)
		}
	}
}

func testConsentDelete(t *testing.T, s store.Store) {
	grantFixture(t, s)
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.PutConsent(ctx, newConsent("c1", "u1")), tx.PutConsent(ctx, newConsent("c2", "u1")))
	})
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteConsent(ctx, "acme", "u1", "c1") })
	_, err := s.GetConsent(t.Context(), "acme", "u1", "c1")
	wantErr(t, "GetConsent after delete", err, store.ErrNotFound)
	_, err = s.GetConsent(t.Context(), "acme", "u1", "c2")
	noErr(t, "GetConsent of the other client", err)
	err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteConsent(ctx, "acme", "u1", "c1") })
	wantErr(t, "DeleteConsent twice", err, store.ErrNotFound)
}
