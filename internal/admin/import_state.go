package admin

import (
	"context"
	"hash/maphash"
	"strings"

	"github.com/keyshift/keyshift/internal/store"
)

// importState is what an import remembers between rows, in memory that does
// not grow with the rows themselves: a fixed-size Bloom filter of the key
// hashes seen so far (to tell a row repeated in the file from a re-import)
// and an index of the tenant's contact logins, about 40 bytes per distinct
// login (peak heap of 200,000 rows: 18 MiB without logins, 27 MiB with).
type importState struct {
	seed   maphash.Seed
	seen   bloom
	logins map[uint64]uint64 // fingerprint of lower-cased login → fingerprint of key ID
}

// newImportState indexes the contact logins of tenant's keys.
func newImportState(ctx context.Context, r store.Reader, tenant string) (*importState, error) {
	s := &importState{seed: maphash.MakeSeed(), seen: newBloom(importBloomBits), logins: map[uint64]uint64{}}
	err := eachKey(ctx, r, store.APIKeyFilter{Tenant: tenant}, func(k store.APIKey) error {
		s.setLogin(k.Contact.Login, k.ID)
		return nil
	})
	return s, err
}

func (s *importState) fp(v string) uint64 { return maphash.String(s.seed, v) }

// loginTaken reports whether another key of the tenant has login. Two
// different logins share a 64-bit fingerprint with negligible probability
// (about n²/2⁶⁵).
func (s *importState) loginTaken(login, keyID string) bool {
	if login == "" {
		return false
	}
	owner, ok := s.logins[s.fp(strings.ToLower(login))]
	return ok && owner != s.fp(keyID)
}

func (s *importState) setLogin(login, keyID string) {
	if login != "" {
		s.logins[s.fp(strings.ToLower(login))] = s.fp(keyID)
	}
}

// dropLogin forgets a login a key no longer has.
func (s *importState) dropLogin(login, keyID string) {
	if login == "" {
		return
	}
	f := s.fp(strings.ToLower(login))
	if s.logins[f] == s.fp(keyID) {
		delete(s.logins, f)
	}
}

// importBloomBits sizes the filter of seen hashes: 2^26 bits (8 MiB) keep
// false positives near one in 100,000 at a million rows and degrade
// gracefully beyond. A false positive alone changes nothing: a row is a
// repeat only when the stored key was also written by this same run (see
// importer.row); in a dry run, which keeps nothing, the filter decides.
const importBloomBits = 1 << 26

// bloom is a Bloom filter over SHA-256 hashes, which are uniformly
// distributed already, so slices of the hash serve as the k hash functions.
type bloom []uint64

const bloomK = 4

func newBloom(bits int) bloom { return make(bloom, bits/64) }

func (b bloom) positions(h [32]byte) [bloomK]uint64 {
	var ps [bloomK]uint64
	n := uint64(len(b) * 64)
	for i := range ps {
		var v uint64
		for j := 0; j < 8; j++ {
			v = v<<8 | uint64(h[i*8+j])
		}
		ps[i] = v % n
	}
	return ps
}

// testAndAdd adds h and reports whether it may have been added before.
func (b bloom) testAndAdd(h [32]byte) bool {
	seen := true
	for _, p := range b.positions(h) {
		w, bit := p/64, uint64(1)<<(p%64)
		if b[w]&bit == 0 {
			seen = false
			b[w] |= bit
		}
	}
	return seen
}
