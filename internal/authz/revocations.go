package authz

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// revocationSet holds the ids of revoked tokens that have not expired yet.
// A revocation is permanent until the token expires, so loads only ever add
// entries and expiry is the only way out: a full reload racing with a
// revocation made in this process can never drop it.
type revocationSet struct {
	mu  sync.RWMutex
	exp map[string]time.Time // jti → token expiry
}

func newRevocationSet() *revocationSet {
	return &revocationSet{exp: map[string]time.Time{}}
}

// revoked reports whether jti is revoked, itself or with its refresh
// family (see grantRevocationPrefix).
func (s *revocationSet) revoked(jti string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.exp[jti]; ok {
		return true
	}
	if g := grantRevocationKey(jti); g != "" {
		_, ok := s.exp[g]
		return ok
	}
	return false
}

// add records a revocation.
func (s *revocationSet) add(jti string, expires time.Time) {
	s.mu.Lock()
	s.exp[jti] = expires
	s.mu.Unlock()
}

// sweep forgets revocations of tokens that expired before now (minus the
// verification leeway, during which an expired token still verifies).
func (s *revocationSet) sweep(now time.Time) {
	cut := now.Add(-leeway)
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti, exp := range s.exp {
		if exp.Before(cut) {
			delete(s.exp, jti)
		}
	}
}

// len returns the number of revocations held.
func (s *revocationSet) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.exp)
}

// loadAll adds every revocation the store holds for unexpired tokens.
func (s *revocationSet) loadAll(ctx context.Context, r store.Reader, now time.Time) error {
	revs, err := r.ListRevocations(ctx, now.Add(-leeway))
	if err != nil {
		return fmt.Errorf("list revocations: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rv := range revs {
		s.exp[rv.JTI] = rv.ExpiresAt
	}
	return nil
}

// loadOne adds the revocation of jti; a missing one was garbage-collected
// and needs nothing.
func (s *revocationSet) loadOne(ctx context.Context, r store.Reader, jti string) error {
	rv, err := r.GetRevocation(ctx, jti)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get revocation %s: %w", jti, err)
	}
	s.add(rv.JTI, rv.ExpiresAt)
	return nil
}
