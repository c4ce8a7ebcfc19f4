package storecopy_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
	"github.com/keyshift/keyshift/internal/store/sqlite"
	"github.com/keyshift/keyshift/internal/storecopy"
)

// base has microsecond precision, the finest both backends keep.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func openSQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keyshift.db"), sqlite.Options{Timeout: storecopy.BatchTimeout})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// batch writes n objects with put, 500 per transaction.
func batch(t testing.TB, s store.Store, n int, put func(ctx context.Context, tx store.KeyTx, i int) error) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 500 {
		err := s.Tx(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+500, n); i++ {
				if err := put(ctx, tx.(store.KeyTx), i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("populate: %v", err)
		}
	}
}

// Sizes of the populated installation.
const (
	nTenants     = 5
	nClients     = 60
	nUsers       = 40
	nScopes      = 12
	nSigningKeys = 3
	nRevocations = 700
	nAudit       = 2300
	nAPIKeys     = 2600
	nUsage       = 900
	// More than one copy batch of token usage rows.
	nTokenUsage = 1200
	nOutbox     = 30
)

func apiKey(i int) store.APIKey {
	exp := base.AddDate(1, 0, 0).Truncate(24 * time.Hour)
	k := store.APIKey{ID: fmt.Sprintf("key-%05d", i), Tenant: fmt.Sprint("t", i%nTenants),
		Hash: []byte(fmt.Sprintf("hash-%05d-0123456789abcdef0123", i)), Hint: "…abcd",
		Name: fmt.Sprint("key ", i), Contact: store.Contact{Login: "ada", Email: "ada@example.com"},
		Permissions: []string{"invoice:read", "invoice:write"}, Owner: store.OwnerTenant,
		Status: store.StatusActive, CreatedAt: base, UpdatedAt: base.Add(time.Second)}
	if i%3 == 0 {
		k.ExpiresAt = &exp
	}
	return k
}

// populate fills s with every kind of object. Audit events share instants
// in groups of 7, so that audit paging must not split them.
func populate(t testing.TB, s store.Store) {
	t.Helper()
	batch(t, s, nTenants, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.(store.Tx).CreateTenant(ctx, store.Tenant{ID: fmt.Sprint("t", i), Name: "T",
			Status: store.StatusActive, CreatedAt: base, UpdatedAt: base})
	})
	batch(t, s, nScopes, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.(store.Tx).PutScope(ctx, store.Scope{Name: fmt.Sprintf("svc.obj%02d.read", i),
			Permissions: []string{"obj:read"}, Builtin: i == 0, CreatedAt: base, UpdatedAt: base})
	})
	batch(t, s, nClients, func(ctx context.Context, tx store.KeyTx, i int) error {
		c := store.Client{ID: fmt.Sprintf("c%03d", i),
			Tenant: fmt.Sprint("t", i%nTenants), Name: "client", GrantTypes: []string{"client_credentials"},
			Scopes: []string{"svc.obj00.read"}, AuthMethod: "client_secret_basic",
			Secrets:        []store.ClientSecret{{ID: "s1", Hash: []byte{1, 2, 3}, Hint: "…xyz", CreatedAt: base}},
			AccessTokenTTL: time.Hour, Status: store.StatusActive, CreatedAt: base, UpdatedAt: base}
		if i%2 == 0 { // an OpenID Connect app
			c.GrantTypes, c.AuthMethod = []string{"authorization_code", "refresh_token"}, "private_key_jwt"
			c.JWKS, c.JWKSURI = []byte(`{"keys":[{"kty":"EC"}]}`), "https://rp.example.com/jwks"
			c.IDTokenAlg, c.PostLogoutRedirectURIs = "ES256", []string{"https://rp.example.com/bye"}
		}
		return tx.(store.Tx).CreateClient(ctx, c)
	})
	batch(t, s, nUsers, func(ctx context.Context, tx store.KeyTx, i int) error {
		u := store.User{ID: fmt.Sprintf("u%03d", i), Tenant: fmt.Sprint("t", i%nTenants),
			Login: fmt.Sprint("User", i), Email: fmt.Sprint("user", i, "@example.com"), Name: "User",
			PasswordHash: []byte("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"),
			CreatedAt:    base, UpdatedAt: base.Add(time.Second), PasswordChangedAt: base}
		if i%5 == 0 {
			u.Roles, u.Disabled = []string{store.RoleAdmin}, i%10 == 0
		}
		return tx.(store.Tx).CreateUser(ctx, u)
	})
	batch(t, s, nSigningKeys, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.(store.Tx).CreateSigningKey(ctx, store.SigningKey{ID: fmt.Sprint("kid", i),
			Alg: "ES256", Use: "access_token", State: store.KeyRetired, PublicJWK: []byte(`{"kty":"EC"}`),
			PrivateSealed: []byte{0, 0x9f, byte(i)}, CreatedAt: base.Add(time.Duration(i) * time.Hour),
			ActivateAt: base, RetiredAt: base.Add(time.Hour), PublishUntil: base.Add(2 * time.Hour)})
	})
	batch(t, s, nRevocations, func(ctx context.Context, tx store.KeyTx, i int) error {
		// Half of them expired long ago: the copy keeps them too.
		exp := base.Add(time.Duration(i-nRevocations/2) * 24 * time.Hour)
		return tx.(store.Tx).CreateRevocation(ctx, store.Revocation{JTI: fmt.Sprint("jti-", i),
			Tenant: "t0", ClientID: "c000", RevokedAt: base, ExpiresAt: exp})
	})
	batch(t, s, nAudit, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.(store.Tx).AppendAudit(ctx, store.AuditEvent{ID: fmt.Sprintf("e%05d", i),
			Time: base.Add(time.Duration(i/7) * time.Millisecond), Actor: "ada", Tenant: "t0",
			Action: "client.update", ObjectType: "client", ObjectID: "c000",
			Details: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	})
	batch(t, s, nAPIKeys, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.CreateAPIKey(ctx, apiKey(i))
	})
	batch(t, s, nUsage, func(ctx context.Context, tx store.KeyTx, i int) error {
		day := base.Truncate(24*time.Hour).AddDate(0, 0, i/300)
		return tx.AddUsage(ctx, []store.UsageDelta{{KeyID: fmt.Sprintf("key-%05d", i%300),
			Tenant: "t0", Day: day, Accepted: int64(i), Refused: map[string]int64{"api_key_sunset": 2},
			LastUsedAt: day.Add(time.Hour), LastIP: "192.0.2.1", LastUserAgent: "loader",
			Routes: []store.RouteCount{{Route: "GET /api/invoices", Count: 3}}}})
	})
	batch(t, s, nTokenUsage, func(ctx context.Context, tx store.KeyTx, i int) error {
		// 40 clients on 30 days.
		return tx.(store.Tx).AddTokenUsage(ctx, []store.TokenUsageDelta{{Tenant: fmt.Sprint("t", i%nTenants),
			ClientID: fmt.Sprintf("c%03d", i%40), Day: base.Truncate(24*time.Hour).AddDate(0, 0, -i/40),
			Requests: int64(i + 1)}})
	})
	batch(t, s, 1, func(ctx context.Context, tx store.KeyTx, _ int) error {
		return tx.PutSetting(ctx, "timeline", []byte(`{"sunset":"2027-01-01"}`))
	})
	batch(t, s, nOutbox, func(ctx context.Context, tx store.KeyTx, i int) error {
		return tx.EnqueueOutbox(ctx, store.OutboxMessage{ID: fmt.Sprintf("m%03d", i), Tenant: "t0",
			Topic: "key.disabled", Payload: []byte(`{}`), CreatedAt: base,
			NextAttemptAt: base.Add(time.Duration(i) * time.Minute)})
	})
}

var wantCounts = storecopy.Counts{Tenants: nTenants, Scopes: nScopes, Clients: nClients, Users: nUsers,
	SigningKeys: nSigningKeys, Revocations: nRevocations, AuditEvents: nAudit, APIKeys: nAPIKeys,
	UsageDays: nUsage, TokenUsageDays: nTokenUsage, Settings: 1, Outbox: nOutbox}

// snapshot reads everything a store holds, in a backend-neutral order.
type snapshot struct {
	Tenants     []store.Tenant
	Scopes      []store.Scope
	Clients     []store.Client
	Users       []store.User
	SigningKeys []store.SigningKey
	Revocations []store.Revocation
	Audit       []store.AuditEvent
	APIKeys     []store.APIKey
	Usage       []store.UsageDay
	TokenUsage  []store.TokenUsageDay
	Setting     []byte
	Outbox      []store.OutboxMessage
}

func read(t *testing.T, s store.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	kr := s.(store.KeyReader)
	var sn snapshot
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	sn.Tenants, err = s.ListTenants(ctx)
	add(err)
	sn.Scopes, err = s.ListScopes(ctx)
	add(err)
	sn.Clients, err = s.ListClients(ctx, "")
	add(err)
	for _, tn := range sn.Tenants {
		users, err := s.ListUsers(ctx, tn.ID)
		add(err)
		sn.Users = append(sn.Users, users...)
	}
	sn.SigningKeys, err = s.ListSigningKeys(ctx)
	add(err)
	sn.Revocations, err = s.ListRevocations(ctx, time.Time{})
	add(err)
	sn.Audit, err = s.ListAudit(ctx, store.AuditFilter{Limit: 1 << 20})
	add(err)
	sn.APIKeys, err = kr.ListAPIKeys(ctx, store.APIKeyFilter{Limit: 1 << 20})
	add(err)
	sn.Usage, err = kr.ListUsage(ctx, store.UsageFilter{})
	add(err)
	sn.TokenUsage, err = s.ListTokenUsage(ctx, store.TokenUsageFilter{})
	add(err)
	sn.Setting, err = kr.GetSetting(ctx, "timeline")
	add(err)
	sn.Outbox, err = kr.ListDueOutbox(ctx, base.AddDate(1, 0, 0), 1<<20)
	add(err)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("read store: %v", err)
	}
	return sn
}

func TestCopy_SQLiteToPostgres_CopiesAndVerifiesEverything(t *testing.T) {
	t.Parallel()
	src := openSQLite(t)
	populate(t, src)
	dst := pgtest.Open(t, postgres.Options{Timeout: storecopy.BatchTimeout})

	var calls int
	var last, lastTotal int64
	start := time.Now()
	got, err := storecopy.Copy(t.Context(), src, dst, func(done, total int64) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		calls++
		last, lastTotal = done, total
	})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	t.Logf("copied %d objects in %v", got.Total(), time.Since(start))
	if got != wantCounts {
		t.Fatalf("counts = %+v, want %+v", got, wantCounts)
	}
	if calls < 10 || last != wantCounts.Total() || lastTotal != wantCounts.Total() {
		t.Fatalf("progress: %d calls, last %d/%d; want several, ending at %d/%d",
			calls, last, lastTotal, wantCounts.Total(), wantCounts.Total())
	}
	want, have := read(t, src), read(t, dst)
	v1, v2 := reflect.ValueOf(want), reflect.ValueOf(have)
	for i := range v1.NumField() {
		if !reflect.DeepEqual(v1.Field(i).Interface(), v2.Field(i).Interface()) {
			t.Errorf("%s differ after the copy", v1.Type().Field(i).Name)
		}
	}
}

func TestCopy_PostgresToSQLite_RoundTrip(t *testing.T) {
	t.Parallel()
	src := pgtest.Open(t, postgres.Options{Timeout: storecopy.BatchTimeout})
	populate(t, src)
	// Delivered messages exist only on a store that can list them.
	delivered := base.Add(time.Hour)
	batch(t, src, 1, func(ctx context.Context, tx store.KeyTx, _ int) error {
		return tx.EnqueueOutbox(ctx, store.OutboxMessage{ID: "m-delivered", Topic: "key.disabled",
			CreatedAt: base, NextAttemptAt: base, DeliveredAt: &delivered})
	})
	dst := openSQLite(t)
	got, err := storecopy.Copy(t.Context(), src, dst, nil)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	want := wantCounts
	want.Outbox++
	if got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(read(t, src), read(t, dst)) {
		t.Fatal("stores differ after the copy")
	}
}

func TestCopy_NonEmptyDestination_Refused(t *testing.T) {
	tests := []struct {
		name string
		put  func(ctx context.Context, tx store.KeyTx) error
	}{
		{"tenant", func(ctx context.Context, tx store.KeyTx) error {
			return tx.(store.Tx).CreateTenant(ctx, store.Tenant{ID: "x", Status: store.StatusActive})
		}},
		{"revocation", func(ctx context.Context, tx store.KeyTx) error {
			return tx.(store.Tx).CreateRevocation(ctx, store.Revocation{JTI: "j", ExpiresAt: base})
		}},
		{"usage", func(ctx context.Context, tx store.KeyTx) error {
			return tx.AddUsage(ctx, []store.UsageDelta{{KeyID: "k", Day: base, Accepted: 1}})
		}},
		{"token usage", func(ctx context.Context, tx store.KeyTx) error {
			return tx.(store.Tx).AddTokenUsage(ctx, []store.TokenUsageDelta{{Tenant: "t0", ClientID: "c", Day: base, Requests: 1}})
		}},
		{"setting", func(ctx context.Context, tx store.KeyTx) error {
			return tx.PutSetting(ctx, "timeline", []byte(`{}`))
		}},
	}
	src := openSQLite(t)
	batch(t, src, 1, func(ctx context.Context, tx store.KeyTx, _ int) error {
		return tx.(store.Tx).CreateTenant(ctx, store.Tenant{ID: "t0", Status: store.StatusActive})
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := openSQLite(t)
			batch(t, dst, 1, func(ctx context.Context, tx store.KeyTx, _ int) error { return tc.put(ctx, tx) })
			_, err := storecopy.Copy(t.Context(), src, dst, nil)
			if !errors.Is(err, storecopy.ErrDestinationNotEmpty) {
				t.Fatalf("Copy into a store holding a %s: error = %v, want ErrDestinationNotEmpty", tc.name, err)
			}
			if _, err := dst.GetTenant(t.Context(), "t0"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Copy wrote into the refused destination: %v", err)
			}
		})
	}
}

func TestCopy_EmptySource_CopiesNothing(t *testing.T) {
	got, err := storecopy.Copy(t.Context(), openSQLite(t), openSQLite(t), nil)
	if err != nil || got != (storecopy.Counts{}) {
		t.Fatalf("Copy(empty) = %+v, %v; want nothing copied", got, err)
	}
}
