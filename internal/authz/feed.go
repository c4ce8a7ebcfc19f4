package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Timings of cache maintenance.
const (
	retryDelay    = 2 * time.Second // after a failed reload or a closed feed
	sweepInterval = time.Minute     // expired revocations, refilled limiter buckets
)

// Start loads every client, tenant status, unexpired revocation and the
// scope catalogue into memory, then follows the store's change feed in a
// goroutine until ctx is done. It returns once the initial load is done.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("authz: already started")
	}
	// Subscribe before loading so no change between the two is missed.
	// Following (rather than only subscribing) makes this instance's writes
	// wait until they are applied here: a client acknowledged by the admin
	// API authenticates at once, a disabled one is refused at once.
	feed := s.st.Follow(ctx)
	if err := s.reloadAll(ctx); err != nil {
		s.started.Store(false) // let the caller try again
		return fmt.Errorf("authz: initial load: %w", err)
	}
	s.log.Info("authz caches loaded", "clients", s.clients.len(), "revocations", s.revoked.len())
	go s.follow(ctx, feed)
	go s.collectGrants(ctx)
	return nil
}

// collectGrants deletes expired grant records every GrantGCInterval until
// ctx is done. Every instance may do it; the deletes are idempotent.
func (s *Server) collectGrants(ctx context.Context) {
	t := time.NewTicker(s.cfg.GrantGCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var n int
			err := s.st.Tx(ctx, func(tx store.Tx) error {
				var err error
				n, err = tx.DeleteExpiredGrants(ctx, s.cfg.Now())
				return err
			})
			if err != nil && ctx.Err() == nil {
				s.log.Warn("collect expired grants", "err", err)
			} else if n > 0 {
				s.log.Debug("expired grants collected", "count", n)
			}
		}
	}
}

// reloadAll reloads every cache from the store.
func (s *Server) reloadAll(ctx context.Context) error {
	if err := s.clients.loadAll(ctx, s.st); err != nil {
		return err
	}
	if err := s.revoked.loadAll(ctx, s.st, s.cfg.Now()); err != nil {
		return err
	}
	return s.loadScopes(ctx)
}

// follow applies changes from feed until ctx is done. A failed reload or a
// closed feed leads to a full reload shortly after; a periodic full reload
// backs up the feed in case a notification is lost on the way. Each change
// is reported applied, failed or not, so that the writer waiting for it is
// not held for a store error: the scheduled reload repairs the cache.
// Nothing here may write through the store: the write would wait for this
// loop.
func (s *Server) follow(ctx context.Context, sub *store.Subscription) {
	feed := sub.C
	resync := time.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-feed:
			if !ok {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("authz: change feed closed; resubscribing")
				feed, retry = nil, time.After(retryDelay)
				continue
			}
			if err := s.apply(ctx, ch); err != nil {
				s.log.Warn("authz: cache update failed; full reload scheduled", "kind", ch.Kind, "id", ch.ID, "err", err)
				retry = time.After(retryDelay)
			}
			sub.Applied(ch)
		case <-retry:
			retry = nil
			if feed == nil {
				sub = s.st.Follow(ctx)
				feed = sub.C
			}
			if err := s.reloadAll(ctx); err != nil {
				s.log.Warn("authz: full reload failed; retrying", "err", err)
				retry = time.After(retryDelay)
			}
		case <-resync.C:
			if err := s.reloadAll(ctx); err != nil {
				s.log.Warn("authz: periodic reload failed; retrying", "err", err)
				retry = time.After(retryDelay)
			}
		case <-sweep.C:
			now := s.cfg.Now()
			s.revoked.sweep(now)
			s.clientLimiter.sweepAll(now)
			s.addrLimiter.sweepAll(now)
			s.accountLimiter.sweepAll(now)
		}
	}
}

// apply updates the caches for one change.
func (s *Server) apply(ctx context.Context, ch store.Change) error {
	switch ch.Kind {
	case store.ChangeClient:
		return s.clients.loadClient(ctx, s.st, ch.ID)
	case store.ChangeTenant:
		return s.clients.loadTenant(ctx, s.st, ch.ID)
	case store.ChangeRevocation:
		if ch.ID == "" {
			return s.revoked.loadAll(ctx, s.st, s.cfg.Now())
		}
		return s.revoked.loadOne(ctx, s.st, ch.ID)
	case store.ChangeScope:
		return s.loadScopes(ctx)
	case store.ChangeResync:
		return s.reloadAll(ctx)
	default:
		return nil // signing keys are the Signer's business
	}
}
