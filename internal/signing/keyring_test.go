package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

type fixture struct {
	path  string
	st    *sqlite.Store
	clock *testClock
	logs  *syncBuffer
	cfg   Config
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "keyshift.db"), clock: newTestClock(), logs: &syncBuffer{}}
	f.st = openStore(t, f.path)
	cfg.Now = f.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.cfg = cfg
	return f
}

func (f *fixture) keyring(t *testing.T, master byte) *Keyring {
	t.Helper()
	k, err := New(t.Context(), f.st, newTestSealer(t, master), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keysByState(t *testing.T, r store.Reader) map[string][]store.SigningKey {
	t.Helper()
	rows, err := r.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]store.SigningKey{}
	for _, row := range rows {
		out[row.State] = append(out[row.State], row)
	}
	return out
}

func audit(t *testing.T, st store.Store, action string) []store.AuditEvent {
	t.Helper()
	events, err := st.ListAudit(t.Context(), store.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func jwksKids(t *testing.T, k *Keyring) []string {
	t.Helper()
	var kids []string
	for _, kk := range k.set.Load().keys {
		kids = append(kids, kk.kid)
	}
	body, _ := k.JWKS()
	for _, kid := range kids {
		if !bytes.Contains(body, []byte(`"kid":"`+kid+`"`)) {
			t.Fatalf("JWKS body lacks kid %s: %s", kid, body)
		}
	}
	return kids
}

// single keeps the primary algorithm only, for tests of one key lifecycle.
var single = []string{}

func TestNew_FirstStart_CreatesActiveAndNextWithAudit(t *testing.T) {
	f := newFixture(t, Config{PrePublish: 2 * time.Hour, ExtraAlgs: single})
	k := f.keyring(t, 1)
	keys := keysByState(t, f.st)
	if len(keys[store.KeyActive]) != 1 || len(keys[store.KeyNext]) != 1 || len(keys[store.KeyRetired]) != 0 {
		t.Fatalf("keys by state = %v", keys)
	}
	active, next := keys[store.KeyActive][0], keys[store.KeyNext][0]
	now := f.clock.Now()
	if k.ActiveKeyID() != active.ID || active.Alg != AlgES256 || active.Use != KeyUse || !active.ActivateAt.Equal(now) {
		t.Fatalf("active = %+v", active)
	}
	if !next.ActivateAt.Equal(now.Add(2*time.Hour)) || next.Use != KeyUse {
		t.Fatalf("next = %+v", next)
	}
	if kids := jwksKids(t, k); len(kids) != 2 || kids[0] != active.ID || kids[1] != next.ID {
		t.Fatalf("JWKS kids = %v", kids)
	}
	events := audit(t, f.st, "signing_key.create")
	if len(events) != 1 || events[0].Actor != "keyshift" || events[0].ObjectID != active.ID ||
		!bytes.Contains(events[0].Details, []byte(next.ID)) {
		t.Fatalf("audit = %+v", events)
	}
}

func TestNew_EdDSA_CreatesEdDSAKeys(t *testing.T) {
	f := newFixture(t, Config{Alg: AlgEdDSA, ExtraAlgs: single})
	k := f.keyring(t, 1)
	for _, rows := range keysByState(t, f.st) {
		for _, r := range rows {
			if r.Alg != AlgEdDSA {
				t.Fatalf("key %s alg %s", r.ID, r.Alg)
			}
		}
	}
	tok := mustSign(t, k, "at+jwt")
	if _, _, err := k.Verify(tok, "at+jwt"); err != nil {
		t.Fatal(err)
	}
}

func TestNew_UnsupportedAlg_Error(t *testing.T) {
	f := newFixture(t, Config{Alg: "HS256"})
	if _, err := New(t.Context(), f.st, newTestSealer(t, 1), f.cfg); err == nil {
		t.Fatal("New accepted HS256")
	}
}

func TestNew_Reopen_SameSecret_LoadsSameKeys(t *testing.T) {
	f := newFixture(t, Config{})
	k1 := f.keyring(t, 1)
	tok := mustSign(t, k1, "at+jwt")
	jwks1, etag1 := k1.JWKS()
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}

	f.st = openStore(t, f.path)
	k2 := f.keyring(t, 1)
	if k2.ActiveKeyID() != k1.ActiveKeyID() {
		t.Fatalf("active kid %s after reopen, want %s", k2.ActiveKeyID(), k1.ActiveKeyID())
	}
	if _, _, err := k2.Verify(tok, "at+jwt"); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
	if jwks2, etag2 := k2.JWKS(); !bytes.Equal(jwks1, jwks2) || etag1 != etag2 {
		t.Fatal("JWKS changed across a restart")
	}
	if n := len(audit(t, f.st, "signing_key.create")); n != 1 {
		t.Fatalf("%d create events, want 1", n)
	}
}

func TestNew_WrongMasterSecret_ClearError(t *testing.T) {
	f := newFixture(t, Config{})
	f.keyring(t, 1)
	_, err := New(t.Context(), f.st, newTestSealer(t, 2), f.cfg)
	if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), "wrong master secret") {
		t.Fatalf("New with another master secret = %v, want ErrOpen", err)
	}
	if n := len(keysByState(t, f.st)[store.KeyActive]); n != 2 {
		t.Fatalf("%d active keys after a failed start, want 2 (ES256 and RS256)", n)
	}
}

func TestRotate_OldTokensVerify_NewTokensCarryNewKid(t *testing.T) {
	f := newFixture(t, Config{MaxTokenTTL: 3 * time.Hour, ExtraAlgs: single})
	k := f.keyring(t, 1)
	before := keysByState(t, f.st)
	oldActive, oldNext := before[store.KeyActive][0].ID, before[store.KeyNext][0].ID
	oldTok := mustSign(t, k, "at+jwt")
	_, oldETag := k.JWKS()

	err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator", ActorTenant: store.PlatformTenant, RemoteAddr: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if k.ActiveKeyID() != oldNext {
		t.Fatalf("active = %s, want the former next key %s", k.ActiveKeyID(), oldNext)
	}
	if _, kid, err := k.Verify(oldTok, "at+jwt"); err != nil || kid != oldActive {
		t.Fatalf("token signed before rotation: kid %q, %v", kid, err)
	}
	newTok := mustSign(t, k, "at+jwt")
	if _, kid, err := k.Verify(newTok, "at+jwt"); err != nil || kid != oldNext {
		t.Fatalf("token signed after rotation: kid %q, %v", kid, err)
	}

	after := keysByState(t, f.st)
	retired := after[store.KeyRetired]
	now := f.clock.Now()
	if len(retired) != 1 || retired[0].ID != oldActive || !retired[0].RetiredAt.Equal(now) || !retired[0].PublishUntil.Equal(now.Add(3*time.Hour)) {
		t.Fatalf("retired = %+v", retired)
	}
	newNext := after[store.KeyNext]
	if len(newNext) != 1 || newNext[0].ID == oldNext || !newNext[0].ActivateAt.Equal(now.Add(DefaultPrePublish)) {
		t.Fatalf("next = %+v", newNext)
	}
	kids := jwksKids(t, k)
	if len(kids) != 3 || kids[0] != oldNext || kids[1] != newNext[0].ID || kids[2] != oldActive {
		t.Fatalf("JWKS kids = %v, want active, next, retired", kids)
	}
	if _, etag := k.JWKS(); etag == oldETag {
		t.Fatal("ETag unchanged by rotation")
	}
	events := audit(t, f.st, "signing_key.rotate")
	if len(events) != 1 || events[0].Actor != "operator" || events[0].ObjectID != oldNext ||
		events[0].ObjectType != "signing_key" || events[0].RemoteAddr != "192.0.2.1" {
		t.Fatalf("audit = %+v", events)
	}
	// The next key was promoted before its hour of pre-publication passed.
	if !strings.Contains(f.logs.String(), "level=WARN") {
		t.Fatalf("no warning about the early promotion in logs:\n%s", f.logs)
	}
}

func TestRotate_AfterPrePublication_NoWarning(t *testing.T) {
	f := newFixture(t, Config{})
	k := f.keyring(t, 1)
	if err := k.Maintain(t.Context()); err != nil { // RS256's next key
		t.Fatal(err)
	}
	f.clock.Advance(DefaultPrePublish)
	if err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.logs.String(), "level=WARN") {
		t.Fatalf("unexpected warning:\n%s", f.logs)
	}
}

func TestRotate_NoNextKey_ActivatesFreshKey(t *testing.T) {
	f := newFixture(t, Config{ExtraAlgs: single})
	k := f.keyring(t, 1)
	next := keysByState(t, f.st)[store.KeyNext][0].ID
	if err := f.st.Tx(t.Context(), func(tx store.Tx) error { return tx.DeleteSigningKey(t.Context(), next) }); err != nil {
		t.Fatal(err)
	}
	old := k.ActiveKeyID()
	if err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	keys := keysByState(t, f.st)
	if k.ActiveKeyID() == old || k.ActiveKeyID() == next || len(keys[store.KeyNext]) != 1 || len(keys[store.KeyRetired]) != 1 {
		t.Fatalf("after rotation without a next key: active %s, keys %v", k.ActiveKeyID(), keys)
	}
}

func TestMaintain_MovedClock_RotatesThenPrunes(t *testing.T) {
	f := newFixture(t, Config{RotateEvery: 48 * time.Hour, PrePublish: time.Hour, MaxTokenTTL: 24 * time.Hour, ExtraAlgs: single})
	k := f.keyring(t, 1)
	ctx := t.Context()
	first := keysByState(t, f.st)
	a, n := first[store.KeyActive][0].ID, first[store.KeyNext][0].ID
	tokA := mustSign(t, k, "at+jwt")

	f.clock.Advance(47 * time.Hour)
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if k.ActiveKeyID() != a || len(jwksKids(t, k)) != 2 {
		t.Fatal("Maintain rotated before RotateEvery")
	}

	f.clock.Advance(time.Hour) // the active key is 48 h old
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if k.ActiveKeyID() != n {
		t.Fatalf("active = %s, want the former next key %s", k.ActiveKeyID(), n)
	}
	if _, _, err := k.Verify(tokA, "at+jwt"); err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	if ev := audit(t, f.st, "signing_key.rotate"); len(ev) != 1 || ev[0].Actor != "keyshift" || ev[0].ObjectID != n {
		t.Fatalf("rotate audit = %+v", ev)
	}

	f.clock.Advance(24*time.Hour - time.Second)
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(jwksKids(t, k)) != 3 {
		t.Fatal("retired key left the JWKS before MaxTokenTTL")
	}

	f.clock.Advance(time.Second)
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(t, k); len(kids) != 2 || kids[0] != n {
		t.Fatalf("JWKS kids = %v after MaxTokenTTL", kids)
	}
	if _, err := f.st.GetSigningKey(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retired key still stored: %v", err)
	}
	if _, _, err := k.Verify(tokA, "at+jwt"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token of a pruned key: %v, want ErrUnknownKey", err)
	}
	if ev := audit(t, f.st, "signing_key.delete"); len(ev) != 1 || ev[0].ObjectID != a || ev[0].Actor != "keyshift" {
		t.Fatalf("delete audit = %+v", ev)
	}
	if n := len(audit(t, f.st, "")); n != 3 {
		t.Fatalf("%d audit events, want create, rotate, delete", n)
	}
}

func TestMaintain_MissingNextKey_Created(t *testing.T) {
	f := newFixture(t, Config{ExtraAlgs: single})
	k := f.keyring(t, 1)
	next := keysByState(t, f.st)[store.KeyNext][0].ID
	if err := f.st.Tx(t.Context(), func(tx store.Tx) error { return tx.DeleteSigningKey(t.Context(), next) }); err != nil {
		t.Fatal(err)
	}
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	keys := keysByState(t, f.st)
	if len(keys[store.KeyNext]) != 1 || keys[store.KeyNext][0].ID == next {
		t.Fatalf("next keys = %+v", keys[store.KeyNext])
	}
	if len(jwksKids(t, k)) != 2 {
		t.Fatal("new next key not published")
	}
	if ev := audit(t, f.st, "signing_key.create"); len(ev) != 2 || ev[0].ObjectID != keys[store.KeyNext][0].ID {
		t.Fatalf("create audit = %+v", ev)
	}
}

func TestMaintain_NothingDue_WritesNothing(t *testing.T) {
	f := newFixture(t, Config{})
	k := f.keyring(t, 1)
	if err := k.Maintain(t.Context()); err != nil { // RS256's next key is due at once
		t.Fatal(err)
	}
	changes := f.st.Subscribe(t.Context())
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-changes:
		t.Fatalf("Maintain wrote %+v with nothing due", c)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestStore_PrivateKeysNeverUnencrypted(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"ES256", Config{Alg: AlgES256, ExtraAlgs: single}},
		{"EdDSA", Config{Alg: AlgEdDSA, ExtraAlgs: single}},
		{"RS256", Config{Alg: AlgRS256}},
		{"ES256 with RS256 and EdDSA", Config{Alg: AlgES256, ExtraAlgs: []string{AlgRS256, AlgEdDSA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			k := f.keyring(t, 1)
			if err := k.Maintain(t.Context()); err != nil { // next keys of the extra algorithms
				t.Fatal(err)
			}
			secrets := privateForms(t, k)
			if err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, privateForms(t, k)...)
			if err := f.st.Close(); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(f.path + "*") // the database, its WAL and shared memory
			var scanned int
			for _, file := range files {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				scanned += len(data)
				for _, s := range secrets {
					if bytes.Contains(data, s) {
						t.Fatalf("%s contains private key material %x", filepath.Base(file), s[:8])
					}
				}
			}
			if scanned == 0 {
				t.Fatal("no database bytes scanned")
			}
		})
	}
}

// privateForms returns, for every key that can sign, the forms its private
// part could take if it leaked: PKCS#8 DER, the raw scalar or seed, and the
// JWK "d" member in base64url.
func privateForms(t *testing.T, k *Keyring) [][]byte {
	t.Helper()
	var out [][]byte
	for _, kk := range k.set.Load().keys {
		if !kk.canSign() {
			continue
		}
		var ds [][]byte // private values that would give the key away
		var der []byte
		var err error
		switch {
		case kk.ecPriv != nil:
			var d []byte
			d, err = kk.ecPriv.Bytes()
			if err == nil {
				der, err = x509.MarshalPKCS8PrivateKey(kk.ecPriv)
			}
			ds = append(ds, d)
		case kk.edPriv != nil:
			ds = append(ds, kk.edPriv.Seed())
			der, err = x509.MarshalPKCS8PrivateKey(kk.edPriv)
		case kk.rsaPriv != nil:
			der, err = x509.MarshalPKCS8PrivateKey(kk.rsaPriv)
			// D and both primes, and the PKCS #1 form as well.
			ds = append(ds, kk.rsaPriv.D.Bytes(), kk.rsaPriv.Primes[0].Bytes(), kk.rsaPriv.Primes[1].Bytes(),
				x509.MarshalPKCS1PrivateKey(kk.rsaPriv))
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, der)
		for _, d := range ds {
			out = append(out, d, []byte(base64.RawURLEncoding.EncodeToString(d)))
		}
	}
	if len(out) == 0 {
		t.Fatal("no signing keys")
	}
	return out
}

func TestReload_SeesRotationByAnotherInstance(t *testing.T) {
	f := newFixture(t, Config{})
	k1 := f.keyring(t, 1)
	k2 := f.keyring(t, 1)
	if k1.ActiveKeyID() != k2.ActiveKeyID() {
		t.Fatal("second instance created its own keys")
	}
	if err := k1.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	if err := k2.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if k2.ActiveKeyID() != k1.ActiveKeyID() {
		t.Fatalf("after reload active %s, want %s", k2.ActiveKeyID(), k1.ActiveKeyID())
	}
	if _, _, err := k2.Verify(mustSign(t, k1, "at+jwt"), "at+jwt"); err != nil {
		t.Fatal(err)
	}
}

func TestRun_ReloadsOnChangeFeed(t *testing.T) {
	f := newFixture(t, Config{})
	k1 := f.keyring(t, 1)
	k2 := f.keyring(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { k2.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	time.Sleep(20 * time.Millisecond) // let Run subscribe
	if err := k1.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for k2.ActiveKeyID() != k1.ActiveKeyID() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not pick up the rotation")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeyring_ConcurrentSignVerifyDuringRotation(t *testing.T) {
	// One algorithm: TestKeyring_ConcurrentSignWithEveryAlgDuringRotation
	// covers several.
	f := newFixture(t, Config{MaxTokenTTL: time.Hour, ExtraAlgs: single})
	k := f.keyring(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				tok, err := k.Sign("at+jwt", testClaims{Sub: "c"})
				if err == nil {
					_, _, err = k.Verify(tok, "at+jwt")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 5 {
		if err := k.Rotate(t.Context(), store.AuditEvent{Actor: "operator"}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRun_OwnMaintenanceWrites_NotHeldByItsFeedLoop: a write waits until
// every cache following the change feed has applied it, the keyring among
// them. Maintenance writes from Run must therefore not run on the
// goroutine that applies the keyring's changes, or each scheduled rotation
// would wait for itself until the store gives up and logs it.
func TestRun_OwnMaintenanceWrites_NotHeldByItsFeedLoop(t *testing.T) {
	storeLogs := &syncBuffer{}
	path := filepath.Join(t.TempDir(), "keyshift.db")
	st, err := sqlite.Open(t.Context(), path, sqlite.Options{
		Logger: slog.New(slog.NewTextHandler(storeLogs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clock := newTestClock()
	cfg := Config{Now: clock.Now, ExtraAlgs: single, RotateEvery: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)}
	k, err := New(t.Context(), st, newTestSealer(t, 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := k.ActiveKeyID()
	clock.Advance(48 * time.Hour) // the scheduled rotation is due at Run's first maintenance

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); k.ActiveKeyID() == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("Run did not rotate the due key")
		}
	}
	cancel()
	<-done
	if len(audit(t, st, "signing_key.rotate")) == 0 {
		t.Fatal("no rotation audited")
	}
	if logs := storeLogs.String(); strings.Contains(logs, "caches applied it") {
		t.Fatalf("the maintenance write waited for the keyring's own feed loop:\n%s", logs)
	}
}
