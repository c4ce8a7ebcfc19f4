package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// errRollback ends a transaction that only probes the store.
var errRollback = errors.New("rollback")

// assertionUsed reports whether the client's jti is recorded and unexpired:
// it tries to use it again in a transaction that is rolled back.
func assertionUsed(t *testing.T, s store.Store, clientID, jti string) bool {
	t.Helper()
	var useErr error
	err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		useErr = tx.UseClientAssertion(ctx, clientID, jti, time.Now().Add(time.Hour))
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("probe of assertion %s/%s: %v", clientID, jti, err)
	}
	if useErr != nil && !errors.Is(useErr, store.ErrAlreadyExists) && !errors.Is(useErr, store.ErrNotFound) {
		t.Fatalf("probe of assertion %s/%s: %v", clientID, jti, useErr)
	}
	return errors.Is(useErr, store.ErrAlreadyExists)
}

func useAssertion(t *testing.T, s store.Store, clientID, jti string, exp time.Time) error {
	t.Helper()
	return writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UseClientAssertion(ctx, clientID, jti, exp)
	})
}

// The assertion tests use times around the real clock: UseClientAssertion
// judges expiry by the backend's clock, which RunTests leaves at time.Now.

func testAssertionOnce(t *testing.T, s store.Store) {
	grantFixture(t, s)
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	noErr(t, "first use", useAssertion(t, s, "c1", "j1", exp))
	wantErr(t, "second use", useAssertion(t, s, "c1", "j1", exp), store.ErrAlreadyExists)
	wantErr(t, "second use with a later expiry", useAssertion(t, s, "c1", "j1", exp.Add(time.Hour)), store.ErrAlreadyExists)
	// A jti is scoped to its client.
	noErr(t, "same jti, other client", useAssertion(t, s, "c2", "j1", exp))

	var n int
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredGrants(ctx, exp)
		return err
	})
	if n != 2 {
		t.Fatalf("DeleteExpiredGrants at the assertions' expiry = %d, want 2", n)
	}
	noErr(t, "use after collection", useAssertion(t, s, "c1", "j1", exp.Add(time.Hour)))
	wantErr(t, "use after collection, twice", useAssertion(t, s, "c1", "j1", exp), store.ErrAlreadyExists)
}

func testAssertionExpired(t *testing.T, s store.Store) {
	grantFixture(t, s)
	past := time.Now().Add(-time.Hour)
	noErr(t, "first use", useAssertion(t, s, "c1", "j1", past))
	// Expired but not yet collected: no longer blocks the jti.
	noErr(t, "use after expiry", useAssertion(t, s, "c1", "j1", time.Now().Add(time.Hour)))
	// That use recorded its own expiry.
	wantErr(t, "use before the new expiry", useAssertion(t, s, "c1", "j1", past), store.ErrAlreadyExists)
}

func testAssertionMissingClient(t *testing.T, s store.Store) {
	grantFixture(t, s)
	err := useAssertion(t, s, "nope", "j1", time.Now().Add(time.Hour))
	wantErr(t, "UseClientAssertion of a missing client", err, store.ErrNotFound)
}

func testGrantDeleteExpired(t *testing.T, s store.Store) {
	grantFixture(t, s)
	// now is ahead of the real clock, so that an assertion expiring after
	// now - 1s is still unexpired for the backend until collected.
	now := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	expiries := map[string]time.Time{
		"before": now.Add(-time.Second),
		"at":     now, // expired at its expiry instant
		"live":   now.Add(time.Microsecond),
	}
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		var errs []error
		for name, exp := range expiries {
			c, f := newAuthCode(name, "c1", "u1"), newFamily(name, "c1", "u1")
			d, v := newDeviceCode(name, "c1", ""), newSession(name, "u1")
			c.ExpiresAt, f.ExpiresAt, d.ExpiresAt, v.ExpiresAt = exp, exp, exp, exp
			errs = append(errs, tx.CreateAuthCode(ctx, c), tx.CreateRefreshFamily(ctx, f),
				tx.CreateDeviceCode(ctx, d), tx.CreateSession(ctx, v),
				tx.UseClientAssertion(ctx, "c1", name, exp))
		}
		// Consents do not expire.
		errs = append(errs, tx.PutConsent(ctx, newConsent("c1", "u1")))
		return errors.Join(errs...)
	})

	for _, tc := range []struct {
		name string
		want int
	}{{"first", 10}, {"again", 0}} {
		var n int
		write(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.DeleteExpiredGrants(ctx, now)
			return err
		})
		if n != tc.want {
			t.Fatalf("DeleteExpiredGrants (%s) = %d, want %d", tc.name, n, tc.want)
		}
	}

	ctx := t.Context()
	for name := range expiries {
		live := name == "live"
		checks := []struct {
			kind string
			err  error
		}{
			{"auth code", second(s.GetAuthCode(ctx, hashOf("code-"+name)))},
			{"refresh family", second(s.GetRefreshFamily(ctx, name))},
			{"device code", second(s.GetDeviceCode(ctx, hashOf("dc-"+name)))},
			{"session", second(s.GetSession(ctx, hashOf("cookie-"+name)))},
		}
		for _, c := range checks {
			if live {
				noErr(t, c.kind+" "+name, c.err)
			} else {
				wantErr(t, c.kind+" "+name, c.err, store.ErrNotFound)
			}
		}
		if used := assertionUsed(t, s, "c1", name); used != live {
			t.Fatalf("assertion %s recorded = %v after collection, want %v", name, used, live)
		}
	}
	_, err := s.GetConsent(ctx, "acme", "u1", "c1")
	noErr(t, "consent after collection", err)
}

func second[T any](_ T, err error) error { return err }

// cascadeRecords creates, for each client/user pair, an auth code, a
// refresh family, an approved device code and a consent named after the
// pair; a session per user; a pending device code and an assertion per
// client. It returns the names of everything it created.
func cascadeRecords(t *testing.T, s store.Store) []string {
	t.Helper()
	var names []string
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		var errs []error
		for _, p := range [][2]string{{"c1", "u1"}, {"c2", "u1"}, {"c1", "u2"}, {"c3", "u3"}} {
			n := p[0] + p[1]
			errs = append(errs, tx.CreateAuthCode(ctx, newAuthCode(n, p[0], p[1])),
				tx.CreateRefreshFamily(ctx, newFamily(n, p[0], p[1])),
				tx.CreateDeviceCode(ctx, newDeviceCode(n, p[0], p[1])),
				tx.PutConsent(ctx, newConsent(p[0], p[1])))
			names = append(names, "code:"+n, "family:"+n, "device:"+n, "consent:"+n)
		}
		for _, u := range []string{"u1", "u2", "u3"} {
			errs = append(errs, tx.CreateSession(ctx, newSession("s-"+u, u)))
			names = append(names, "session:"+u)
		}
		for _, c := range []string{"c1", "c2", "c3"} {
			errs = append(errs, tx.CreateDeviceCode(ctx, newDeviceCode("pending-"+c, c, "")),
				tx.UseClientAssertion(ctx, c, "j", time.Now().Add(time.Hour)))
			names = append(names, "device:pending-"+c, "assertion:"+c)
		}
		return errors.Join(errs...)
	})
	slices.Sort(names)
	return names
}

// cascadePresent returns which of cascadeRecords' names are still stored.
func cascadePresent(t *testing.T, s store.Store, names []string) []string {
	t.Helper()
	ctx := t.Context()
	var present []string
	for _, name := range names {
		kind, n, _ := cut(name)
		var err error
		switch kind {
		case "code":
			_, err = s.GetAuthCode(ctx, hashOf("code-"+n))
		case "family":
			_, err = s.GetRefreshFamily(ctx, n)
		case "device":
			_, err = s.GetDeviceCode(ctx, hashOf("dc-"+n))
		case "consent":
			_, err = s.GetConsent(ctx, grantTenant(n[2:]), n[2:], n[:2])
		case "session":
			_, err = s.GetSession(ctx, hashOf("cookie-s-"+n))
		case "assertion":
			if !assertionUsed(t, s, n, "j") {
				err = store.ErrNotFound
			}
		}
		switch {
		case err == nil:
			present = append(present, name)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("read %s: %v", name, err)
		}
	}
	return present
}

func cut(s string) (before, after string, found bool) {
	for i := range len(s) {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func testGrantCascade(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		del  func(ctx context.Context, tx store.Tx) error
		gone []string
	}{
		{"tenant", func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") },
			[]string{"code:c1u1", "family:c1u1", "device:c1u1", "consent:c1u1",
				"code:c2u1", "family:c2u1", "device:c2u1", "consent:c2u1",
				"code:c1u2", "family:c1u2", "device:c1u2", "consent:c1u2",
				"session:u1", "session:u2", "device:pending-c1", "device:pending-c2",
				"assertion:c1", "assertion:c2"}},
		{"user", func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, "u1") },
			[]string{"code:c1u1", "family:c1u1", "device:c1u1", "consent:c1u1",
				"code:c2u1", "family:c2u1", "device:c2u1", "consent:c2u1", "session:u1"}},
		{"client", func(ctx context.Context, tx store.Tx) error { return tx.DeleteClient(ctx, "c1") },
			[]string{"code:c1u1", "family:c1u1", "device:c1u1", "consent:c1u1",
				"code:c1u2", "family:c1u2", "device:c1u2", "consent:c1u2",
				"device:pending-c1", "assertion:c1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grantFixture(t, s)
			names := cascadeRecords(t, s)
			if got := cascadePresent(t, s, names); !equalStrings(got, names) {
				t.Fatalf("before the deletion, stored %v, want %v", got, names)
			}
			write(t, s, tc.del)
			var want []string
			for _, n := range names {
				if !slices.Contains(tc.gone, n) {
					want = append(want, n)
				}
			}
			if got := cascadePresent(t, s, names); !equalStrings(got, want) {
				t.Fatalf("after deleting the %s, stored %v, want %v", tc.name, got, want)
			}
		})
		// Start the next case afresh: tenants take everything with them.
		write(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, id := range []string{"acme", "other"} {
				if err := tx.DeleteTenant(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
	}
}

func testAuthCodeConcurrentRedemption(t *testing.T, s store.Store) {
	const workers = 8
	grantFixture(t, s)
	code := newAuthCode("a", "c1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateAuthCode(ctx, code) })

	errRedeemed := errors.New("already redeemed")
	type result struct {
		jti string
		err error
	}
	results := make(chan result, workers)
	start := make(chan struct{})
	// The first redemption to read the code holds it, as a slow request
	// would, until a second one has read it too or holdFor has passed.
	// Without a row lock the second reads it unredeemed and both win; with
	// one, the second cannot read before the first commits, so the hold
	// costs holdFor once.
	const holdFor = 100 * time.Millisecond
	var reads atomic.Int32
	secondRead := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		jti := fmt.Sprintf("jti-%d", i)
		wg.Go(func() {
			<-start
			err := writeErr(t, s, func(ctx context.Context, tx store.Tx) error {
				return tx.UpdateAuthCode(ctx, code.Hash, func(c store.AuthCode) (store.AuthCode, error) {
					if reads.Add(1) == 2 {
						close(secondRead)
					}
					select {
					case <-secondRead:
					case <-time.After(holdFor):
					}
					if c.RedeemedAt != nil {
						return c, errRedeemed
					}
					now := at(time.Second)
					c.RedeemedAt, c.IssuedJTI = &now, jti
					return c, nil
				})
			})
			results <- result{jti, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	var winners []string
	for r := range results {
		switch {
		case r.err == nil:
			winners = append(winners, r.jti)
		case !errors.Is(r.err, errRedeemed):
			t.Fatalf("concurrent UpdateAuthCode: %v", r.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent redemptions saw the code unredeemed (%v), want exactly 1",
			len(winners), workers, winners)
	}
	got, err := s.GetAuthCode(t.Context(), code.Hash)
	noErr(t, "GetAuthCode", err)
	if got.IssuedJTI != winners[0] {
		t.Fatalf("IssuedJTI = %q, want the winner's %q", got.IssuedJTI, winners[0])
	}
}

func testGrantNoChanges(t *testing.T, s store.Store) {
	grantFixture(t, s)
	changes := s.Subscribe(t.Context())
	sess := newSession("s1", "u1")
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		code, dc := newAuthCode("a", "c1", "u1"), newDeviceCode("a", "c1", "")
		return errors.Join(
			tx.CreateAuthCode(ctx, code),
			tx.UpdateAuthCode(ctx, code.Hash, func(c store.AuthCode) (store.AuthCode, error) { return c, nil }),
			tx.CreateRefreshFamily(ctx, newFamily("f1", "c1", "u1")),
			tx.UpdateRefreshFamily(ctx, "f1", func(f store.RefreshFamily) (store.RefreshFamily, error) { return f, nil }),
			tx.CreateDeviceCode(ctx, dc),
			tx.UpdateDeviceCode(ctx, dc.Hash, func(d store.DeviceCode) (store.DeviceCode, error) { return d, nil }),
			tx.CreateSession(ctx, sess),
			tx.PutConsent(ctx, newConsent("c1", "u1")),
			tx.UseClientAssertion(ctx, "c1", "j1", time.Now().Add(time.Hour)),
		)
	})
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := errors.Join(tx.DeleteSession(ctx, sess.Hash), tx.DeleteConsent(ctx, "acme", "u1", "c1")); err != nil {
			return err
		}
		_, err := tx.DeleteExpiredGrants(ctx, at(365*24*time.Hour))
		return err
	})
	// The first change published is the tenant's: the grant writes made none.
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateTenant(ctx, "acme", func(v store.Tenant) (store.Tenant, error) { return v, nil })
	})
	expectChanges(t, changes, store.Change{Kind: store.ChangeTenant, ID: "acme", Tenant: "acme"})
}

func testClientOIDCFields(t *testing.T, s store.Store) {
	createTenants(t, s, "acme")
	bare := store.Client{ID: "c1", Tenant: "acme", CreatedAt: at(0), UpdatedAt: at(0)}
	createClients(t, s, bare)
	set := func(c store.Client) store.Client {
		c.JWKS = []byte(`{"keys":[{"kty":"RSA","n":"…","e":"AQAB"}]}`)
		c.JWKSURI, c.IDTokenAlg = "https://rp.example.com/jwks", "PS256"
		c.PostLogoutRedirectURIs = []string{"https://rp.example.com/logged-out"}
		return c
	}
	clear := func(c store.Client) store.Client {
		c.JWKS, c.JWKSURI, c.IDTokenAlg, c.PostLogoutRedirectURIs = nil, "", "", nil
		return c
	}
	for _, step := range []struct {
		name string
		fn   func(store.Client) store.Client
	}{{"set", set}, {"cleared", clear}, {"set again", set}} {
		var want store.Client
		write(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateClient(ctx, "c1", func(c store.Client) (store.Client, error) {
				want = step.fn(c)
				want.UpdatedAt = want.UpdatedAt.Add(time.Second)
				return want, nil
			})
		})
		got, err := s.GetClient(t.Context(), "c1")
		noErr(t, "GetClient", err)
		equal(t, "client with OIDC fields "+step.name, got, want, normClient)
		list, err := s.ListClients(t.Context(), "acme")
		noErr(t, "ListClients", err)
		if len(list) != 1 {
			t.Fatalf("ListClients = %d clients, want 1", len(list))
		}
		equal(t, "listed client with OIDC fields "+step.name, list[0], want, normClient)
	}
}
