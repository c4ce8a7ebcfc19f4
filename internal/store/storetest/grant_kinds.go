package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// grantKind creates, reads and updates one kind of grant record by name,
// for the checks every kind shares.
type grantKind struct {
	name   string
	create func(ctx context.Context, tx store.Tx, name, client, user string) error
	// get reads the record created under name.
	get func(ctx context.Context, r store.Reader, name string) (any, error)
	// update runs an Update* of the record named name with fn's error.
	update func(ctx context.Context, tx store.Tx, name string, fnErr error) error
}

var grantKinds = []grantKind{
	{
		name: "auth code",
		create: func(ctx context.Context, tx store.Tx, name, client, user string) error {
			return tx.CreateAuthCode(ctx, newAuthCode(name, client, user))
		},
		get: func(ctx context.Context, r store.Reader, name string) (any, error) {
			v, err := r.GetAuthCode(ctx, hashOf("code-"+name))
			return normAuthCode(v), err
		},
		update: func(ctx context.Context, tx store.Tx, name string, fnErr error) error {
			return tx.UpdateAuthCode(ctx, hashOf("code-"+name), func(c store.AuthCode) (store.AuthCode, error) {
				c.IssuedJTI = "changed"
				return c, fnErr
			})
		},
	},
	{
		name: "refresh family",
		create: func(ctx context.Context, tx store.Tx, name, client, user string) error {
			return tx.CreateRefreshFamily(ctx, newFamily(name, client, user))
		},
		get: func(ctx context.Context, r store.Reader, name string) (any, error) {
			v, err := r.GetRefreshFamily(ctx, name)
			return normFamily(v), err
		},
		update: func(ctx context.Context, tx store.Tx, name string, fnErr error) error {
			return tx.UpdateRefreshFamily(ctx, name, func(f store.RefreshFamily) (store.RefreshFamily, error) {
				f.Generation++
				return f, fnErr
			})
		},
	},
	{
		name: "device code",
		create: func(ctx context.Context, tx store.Tx, name, client, user string) error {
			// The user code differs by client, so a duplicate hash is the
			// only violated key in testGrantDuplicate.
			d := newDeviceCode(name, client, user)
			d.UserCodeHash = hashOf("uc-" + name + "-" + client)
			return tx.CreateDeviceCode(ctx, d)
		},
		get: func(ctx context.Context, r store.Reader, name string) (any, error) {
			v, err := r.GetDeviceCode(ctx, hashOf("dc-"+name))
			return normDeviceCode(v), err
		},
		update: func(ctx context.Context, tx store.Tx, name string, fnErr error) error {
			return tx.UpdateDeviceCode(ctx, hashOf("dc-"+name), func(d store.DeviceCode) (store.DeviceCode, error) {
				d.Status = store.DeviceDenied
				return d, fnErr
			})
		},
	},
	{
		name: "session",
		create: func(ctx context.Context, tx store.Tx, name, client, user string) error {
			// The public id differs by client, as the user code above.
			s := newSession(name, user)
			s.ID, s.Tenant = name+"-"+client, grantTenant(client)
			return tx.CreateSession(ctx, s)
		},
		get: func(ctx context.Context, r store.Reader, name string) (any, error) {
			v, err := r.GetSession(ctx, hashOf("cookie-"+name))
			return normSession(v), err
		},
	},
	{
		name: "consent",
		create: func(ctx context.Context, tx store.Tx, _, client, user string) error {
			c := newConsent(client, user)
			c.Tenant = grantTenant(client)
			return tx.PutConsent(ctx, c)
		},
	},
}

func testGrantDuplicate(t *testing.T, s store.Store) {
	for _, k := range grantKinds {
		if k.get == nil {
			continue // consents are put, not created
		}
		t.Run(k.name, func(t *testing.T) {
			grantFixture(t, s)
			write(t, s, func(ctx context.Context, tx store.Tx) error { return k.create(ctx, tx, "dup", "c1", "u1") })
			want, err := k.get(t.Context(), s, "dup")
			noErr(t, "get", err)
			// The same key again, whatever the other fields say.
			err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return k.create(ctx, tx, "dup", "c2", "u2") })
			wantErr(t, "create "+k.name+" twice", err, store.ErrAlreadyExists)
			got, err := k.get(t.Context(), s, "dup")
			noErr(t, "get after refused create", err)
			equal(t, k.name+" after refused create", got, want, func(v any) any { return v })
		})
		deleteTenants(t, s)
	}
}

// deleteTenants removes the fixture's tenants (and with them every grant
// record), so a test can run one subtest per kind on one store.
func deleteTenants(t *testing.T, s store.Store) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.DeleteTenant(ctx, "acme"), tx.DeleteTenant(ctx, "other"))
	})
}

func testGrantMissingOwner(t *testing.T, s store.Store) {
	grantFixture(t, s)
	owners := []struct{ what, client, user string }{
		{"client", "nope", "u1"},
		{"user", "c1", "nope"},
	}
	for _, k := range grantKinds {
		for _, o := range owners {
			if k.name == "session" && o.what == "client" {
				continue // a session belongs to no client
			}
			t.Run(k.name+"/missing "+o.what, func(t *testing.T) {
				err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return k.create(ctx, tx, "x", o.client, o.user)
				})
				wantErr(t, "create "+k.name+" of a missing "+o.what, err, store.ErrNotFound)
			})
		}
	}
	// A missing tenant, with client and user otherwise valid.
	tests := []struct {
		name   string
		create func(ctx context.Context, tx store.Tx) error
	}{
		{"auth code", func(ctx context.Context, tx store.Tx) error {
			c := newAuthCode("x", "c1", "u1")
			c.Tenant = "nope"
			return tx.CreateAuthCode(ctx, c)
		}},
		{"refresh family", func(ctx context.Context, tx store.Tx) error {
			f := newFamily("x", "c1", "u1")
			f.Tenant = "nope"
			return tx.CreateRefreshFamily(ctx, f)
		}},
		{"device code", func(ctx context.Context, tx store.Tx) error {
			d := newDeviceCode("x", "c1", "")
			d.Tenant = "nope"
			return tx.CreateDeviceCode(ctx, d)
		}},
		{"session", func(ctx context.Context, tx store.Tx) error {
			v := newSession("x", "u1")
			v.Tenant = "nope"
			return tx.CreateSession(ctx, v)
		}},
		{"consent", func(ctx context.Context, tx store.Tx) error {
			c := newConsent("c1", "u1")
			c.Tenant = "nope"
			return tx.PutConsent(ctx, c)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/missing tenant", func(t *testing.T) {
			err := writeErr(t, s, tc.create)
			wantErr(t, "create "+tc.name+" of a missing tenant", err, store.ErrNotFound)
		})
	}
}

func testGrantGetMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		get  func() error
	}{
		{"GetAuthCode", func() error { _, err := s.GetAuthCode(ctx, hashOf("nope")); return err }},
		{"GetRefreshFamily", func() error { _, err := s.GetRefreshFamily(ctx, "nope"); return err }},
		{"GetDeviceCode", func() error { _, err := s.GetDeviceCode(ctx, hashOf("nope")); return err }},
		{"GetDeviceCodeByUserCode", func() error { _, err := s.GetDeviceCodeByUserCode(ctx, hashOf("nope")); return err }},
		{"GetSession", func() error { _, err := s.GetSession(ctx, hashOf("nope")); return err }},
		{"GetSessionByID", func() error { _, err := s.GetSessionByID(ctx, "nope"); return err }},
		{"GetConsent", func() error { _, err := s.GetConsent(ctx, "acme", "u1", "c1"); return err }},
	}
	for _, tc := range tests {
		wantErr(t, tc.name, tc.get(), store.ErrNotFound)
	}
	lists := []struct {
		name string
		n    func() (int, error)
	}{
		{"ListRefreshFamilies", func() (int, error) { v, err := s.ListRefreshFamilies(ctx, "acme", "u1", ""); return len(v), err }},
		{"ListConsents", func() (int, error) { v, err := s.ListConsents(ctx, "acme", "u1"); return len(v), err }},
	}
	for _, tc := range lists {
		n, err := tc.n()
		noErr(t, tc.name, err)
		if n != 0 {
			t.Fatalf("%s on an empty store = %d records", tc.name, n)
		}
	}
}

func testGrantUpdateMissing(t *testing.T, s store.Store) {
	for _, k := range grantKinds {
		if k.update == nil {
			continue
		}
		err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return k.update(ctx, tx, "nope", nil) })
		wantErr(t, "update of a missing "+k.name, err, store.ErrNotFound)
	}
	tests := []struct {
		name string
		op   func(ctx context.Context, tx store.Tx) error
	}{
		{"DeleteSession", func(ctx context.Context, tx store.Tx) error { return tx.DeleteSession(ctx, hashOf("nope")) }},
		{"DeleteConsent", func(ctx context.Context, tx store.Tx) error { return tx.DeleteConsent(ctx, "acme", "u1", "c1") }},
	}
	for _, tc := range tests {
		wantErr(t, tc.name+" of a missing record", writeErr(t, s, tc.op), store.ErrNotFound)
	}
}

func testGrantUpdateFnError(t *testing.T, s store.Store) {
	grantFixture(t, s)
	boom := errors.New("boom")
	for _, k := range grantKinds {
		if k.update == nil {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			write(t, s, func(ctx context.Context, tx store.Tx) error { return k.create(ctx, tx, "a", "c1", "u1") })
			want, err := k.get(t.Context(), s, "a")
			noErr(t, "get", err)
			err = writeErr(t, s, func(ctx context.Context, tx store.Tx) error { return k.update(ctx, tx, "a", boom) })
			if !errors.Is(err, boom) {
				t.Fatalf("update %s error = %v, want fn's error", k.name, err)
			}
			got, err := k.get(t.Context(), s, "a")
			noErr(t, "get after failed update", err)
			equal(t, k.name+" after failed update", got, want, func(v any) any { return v })
			// The same update without the error writes.
			write(t, s, func(ctx context.Context, tx store.Tx) error { return k.update(ctx, tx, "a", nil) })
			got, err = k.get(t.Context(), s, "a")
			noErr(t, "get after update", err)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				t.Fatalf("%s unchanged by a successful update", k.name)
			}
		})
	}
}

func testGrantCreatedAtDefault(t *testing.T, s store.Store) {
	grantFixture(t, s)
	code, fam, dev := newAuthCode("a", "c1", "u1"), newFamily("f1", "c1", "u1"), newDeviceCode("a", "c1", "")
	sess, cons := newSession("s1", "u1"), newConsent("c1", "u1")
	code.CreatedAt, fam.CreatedAt, dev.CreatedAt, sess.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	cons.CreatedAt, cons.UpdatedAt = time.Time{}, time.Time{}
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.CreateAuthCode(ctx, code), tx.CreateRefreshFamily(ctx, fam),
			tx.CreateDeviceCode(ctx, dev), tx.CreateSession(ctx, sess), tx.PutConsent(ctx, cons))
	})
	ctx := t.Context()
	c, err1 := s.GetAuthCode(ctx, code.Hash)
	f, err2 := s.GetRefreshFamily(ctx, "f1")
	d, err3 := s.GetDeviceCode(ctx, dev.Hash)
	v, err4 := s.GetSession(ctx, sess.Hash)
	k, err5 := s.GetConsent(ctx, "acme", "u1", "c1")
	noErr(t, "read back", errors.Join(err1, err2, err3, err4, err5))
	for what, tm := range map[string]time.Time{"auth code": c.CreatedAt, "refresh family": f.CreatedAt,
		"device code": d.CreatedAt, "session": v.CreatedAt, "consent": k.CreatedAt, "consent update": k.UpdatedAt} {
		if tm.IsZero() {
			t.Errorf("%s: zero CreatedAt not filled from the clock", what)
		}
	}
}
