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
// their sealed private parts. The keyring keeps alg only.
func newMemKeyringRows(t testing.TB, alg string, states ...string) (*Keyring, []store.SigningKey) {
	t.Helper()
	var keys []memKey
	for _, state := range states {
		keys = append(keys, memKey{alg, state})
	}
	return newMultiKeyring(t, Config{Alg: alg, ExtraAlgs: []string{}}, keys...)
}

// memKey is a key newMultiKeyring generates.
type memKey struct{ alg, state string }

// newMultiKeyring builds a Keyring without a store for cfg, holding keys
// generated afresh; each key's ActivateAt is now and its CreatedAt a minute
// before the previous key's.
func newMultiKeyring(t testing.TB, cfg Config, keys ...memKey) (*Keyring, []store.SigningKey) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	k := &Keyring{sealer: newTestSealer(t, 1), cfg: cfg, algs: cfg.algs(), log: cfg.Logger}
	now := time.Now()
	var rows []store.SigningKey
	for i, mk := range keys {
		rec, err := generateKey(k.sealer, mk.alg, mk.state, now.Add(-time.Duration(i)*time.Minute), now)
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

// activeKID returns the kid of k's active key of alg, or "".
func activeKID(k *Keyring, alg string) string {
	if kk, err := k.activeFor(alg); err == nil {
		return kk.kid
	}
	return ""
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
