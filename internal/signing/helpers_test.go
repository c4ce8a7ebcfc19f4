package signing

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// newMemKeyring builds a Keyring without a store from freshly generated
// keys, for tests of signing and verification alone. The first state given
// is the active key's.
func newMemKeyring(t testing.TB, alg string, states ...string) *Keyring {
	t.Helper()
	k, _ := newMemKeyringRows(t, alg, states...)
	return k
}

// newMemKeyringRows is newMemKeyring that also returns the key records with
// their sealed private parts.
func newMemKeyringRows(t testing.TB, alg string, states ...string) (*Keyring, []store.SigningKey) {
	t.Helper()
	cfg, err := Config{Alg: alg, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	k := &Keyring{sealer: newTestSealer(t, 1), cfg: cfg, log: cfg.Logger}
	now := time.Now()
	var rows []store.SigningKey
	for i, state := range states {
		rec, err := generateKey(k.sealer, alg, state, now.Add(-time.Duration(i)*time.Minute), now)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rec)
	}
	set, err := k.buildSet(slices.Clone(rows), nil)
	if err != nil {
		t.Fatal(err)
	}
	k.set.Store(set)
	return k, rows
}

// signingKeyOf returns the parsed key of kid in k's snapshot.
func signingKeyOf(t testing.TB, k *Keyring, kid string) *key {
	t.Helper()
	kk := k.set.Load().byKID[kid]
	if kk == nil {
		t.Fatalf("no key %s", kid)
	}
	return kk
}
