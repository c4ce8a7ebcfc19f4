// Package storetest is the conformance suite every store.Store backend runs:
// a backend is done when RunTests passes against it.
//
// Beyond the doc comments of package store, the suite pins down these rules:
//   - times read back in UTC, equal to what was written to the microsecond;
//   - nil and empty slices are interchangeable;
//   - Create fills a zero CreatedAt (and UpdatedAt) from the backend's clock,
//     and Update sets UpdatedAt to the clock when fn leaves it unchanged;
//   - Update returns fn's error unchanged and writes nothing; fn may not
//     change the record's ID;
//   - a client whose tenant does not exist is ErrNotFound;
//   - a Change's Tenant is the object's tenant: the tenant itself for a
//     tenant, "" for scopes and signing keys;
//   - deleting a tenant removes its clients and API keys and publishes a
//     change for each; its revocations, audit events and usage stay;
//   - the API key, usage, settings and outbox methods (store.KeyReader,
//     store.KeyTx) are checked when the backend's Store and Tx have them:
//     a duplicate key hash is ErrConflict, AddUsage merges counters (most
//     used 10 routes kept) and never lowers a last-use time, and usage
//     flushes publish nothing;
//   - token usage (store.TrafficTx) adds up exactly across concurrent
//     flushes and duplicate rows of one flush, is kept per UTC day, lists
//     oldest day first (then by tenant and client), publishes nothing and
//     stays when its tenant is deleted;
//   - grant records publish nothing; a taken user code or session id is
//     ErrConflict; a record is expired at its ExpiresAt instant, so
//     DeleteExpiredGrants(now) removes those with ExpiresAt <= now;
//     UseClientAssertion judges expiry by the backend's clock, which the
//     suite expects to be the real time (the backends' default); deleting
//     a tenant, user or client removes its grant records.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// RunTests runs the conformance suite. newStore returns a fresh, empty store
// for one test and arranges for it to be closed (t.Cleanup).
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Tenant", tenantTests},
		{"Scope", scopeTests},
		{"Client", clientTests},
		{"SigningKey", signingKeyTests},
		{"Revocation", revocationTests},
		{"Audit", auditTests},
		{"Tx", txTests},
		{"Feed", feedTests},
		{"APIKey", apiKeyTests},
		{"Setting", settingTests},
		{"Usage", usageTests},
		{"Traffic", trafficTests},
		{"Outbox", outboxTests},
		{"AuthFailures", authFailureTests},
		{"User", userTests},
		{"Grant", grantTests},
		{"Backend", backendTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newStore(t))
				})
			}
		})
	}
}

// test is one conformance check, run against a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// waitTimeout bounds every wait for an asynchronous event.
const waitTimeout = 10 * time.Second

// base is a fixed instant with microsecond precision (the finest every
// backend keeps) in a non-UTC zone, to check that times come back in UTC.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.FixedZone("CET", 3600))

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// write runs fn in a transaction and fails the test on error.
func write(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Tx(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

// writeErr runs fn in a transaction and returns its error.
func writeErr(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := t.Context()
	return s.Tx(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// checkUTC fails unless every time is in UTC.
func checkUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %d (%v) is in %v, want UTC", what, i, tm, tm.Location())
		}
	}
}

// equal compares records after normalize (times to UTC, empty slices to nil).
func equal[T any](t *testing.T, what string, got, want T, normalize func(T) T) {
	t.Helper()
	g, w := normalize(got), normalize(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func utc(t time.Time) time.Time { return t.UTC() }

func strs(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func normTenant(v store.Tenant) store.Tenant {
	v.CreatedAt, v.UpdatedAt = utc(v.CreatedAt), utc(v.UpdatedAt)
	return v
}

func normScope(v store.Scope) store.Scope {
	v.Permissions = strs(v.Permissions)
	v.CreatedAt, v.UpdatedAt = utc(v.CreatedAt), utc(v.UpdatedAt)
	return v
}

func normClient(v store.Client) store.Client {
	v.GrantTypes, v.Scopes, v.RedirectURIs = strs(v.GrantTypes), strs(v.Scopes), strs(v.RedirectURIs)
	v.PostLogoutRedirectURIs, v.JWKS = strs(v.PostLogoutRedirectURIs), bytesOrNil(v.JWKS)
	var secrets []store.ClientSecret
	for _, s := range v.Secrets {
		s.Hash = bytesOrNil(s.Hash)
		s.CreatedAt = utc(s.CreatedAt)
		if s.ExpiresAt != nil {
			e := s.ExpiresAt.UTC()
			s.ExpiresAt = &e
		}
		secrets = append(secrets, s)
	}
	v.Secrets = secrets
	v.CreatedAt, v.UpdatedAt = utc(v.CreatedAt), utc(v.UpdatedAt)
	return v
}

func normKey(v store.SigningKey) store.SigningKey {
	v.PublicJWK, v.PrivateSealed = bytesOrNil(v.PublicJWK), bytesOrNil(v.PrivateSealed)
	v.CreatedAt, v.ActivateAt = utc(v.CreatedAt), utc(v.ActivateAt)
	v.RetiredAt, v.PublishUntil = utc(v.RetiredAt), utc(v.PublishUntil)
	return v
}

func normRevocation(v store.Revocation) store.Revocation {
	v.RevokedAt, v.ExpiresAt = utc(v.RevokedAt), utc(v.ExpiresAt)
	return v
}

func normAudit(v store.AuditEvent) store.AuditEvent {
	v.Time = utc(v.Time)
	v.Details = bytesOrNil(v.Details)
	return v
}

// Fixtures.

func newTenant(id string) store.Tenant {
	return store.Tenant{ID: id, Name: "Tenant " + id, Status: store.StatusActive,
		CreatedAt: at(0), UpdatedAt: at(time.Minute)}
}

func newClient(id, tenant, login string) store.Client {
	exp := at(48 * time.Hour)
	return store.Client{
		ID:     id,
		Tenant: tenant,
		Name:   "Client " + id,
		Contact: store.Contact{Login: login, FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@example.com"},
		GrantTypes:   []string{"client_credentials", "refresh_token"},
		Scopes:       []string{"core.invoice.read", "core.invoice.write"},
		RedirectURIs: []string{"https://app.example.com/cb", "http://127.0.0.1:8080/cb"},
		AuthMethod:   "client_secret_basic",
		Secrets: []store.ClientSecret{
			{ID: "s1", Hash: []byte{0, 1, 2, 0xfe, 0xff}, Hint: "…wxyz", CreatedAt: at(time.Second)},
			{ID: "s2", Hash: []byte("0123456789abcdef0123456789abcdef"), Hint: "…abcd",
				CreatedAt: at(2 * time.Second), ExpiresAt: &exp},
		},
		AccessTokenTTL:         24*time.Hour + 1500*time.Millisecond,
		Status:                 store.StatusActive,
		JWKS:                   []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"…"}]}`),
		JWKSURI:                "https://app.example.com/jwks.json",
		IDTokenAlg:             "ES256",
		PostLogoutRedirectURIs: []string{"https://app.example.com/bye", "https://app.example.com/"},
		ConvertedFromKey:       "key-" + id,
		CreatedAt:              at(3 * time.Second),
		UpdatedAt:              at(4 * time.Second),
	}
}

func newKey(kid string) store.SigningKey {
	return store.SigningKey{
		ID: kid, Alg: "ES256", Use: "access_token", State: store.KeyNext,
		PublicJWK:     []byte(`{"kty":"EC","crv":"P-256","x":"…","y":"…"}`),
		PrivateSealed: []byte{0x00, 0x9f, 0x10, 0xff},
		CreatedAt:     at(0),
		ActivateAt:    at(time.Hour),
	}
}

// createTenants creates tenants with the given ids in one transaction.
func createTenants(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	write(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			if err := tx.CreateTenant(ctx, newTenant(id)); err != nil {
				return err
			}
		}
		return nil
	})
}
