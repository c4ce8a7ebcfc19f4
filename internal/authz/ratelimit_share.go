package authz

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Sharing of failed authentications between instances: every instance
// counts failures in its own limiters as before and, once per interval,
// flushes the counts of the interval to the store in one batch and reads
// the other instances' counts back into its limiters. A successful
// authentication writes nothing; a failure costs a map increment. The
// limits so hold across N instances within one interval's lag: an attacker
// spreading guesses over the instances gets at most one interval's worth
// of extra failures per instance.
const (
	// DefaultFailureShareEvery is the flush interval of ShareFailures.
	DefaultFailureShareEvery = time.Second
	// failureWindow is the granularity of the stored counts.
	failureWindow = time.Minute
	// failureRetention is how long stored counts are kept: long enough for
	// a restarted instance to inherit the failures that still matter (an
	// empty bucket refills completely in burst/rate, one minute by default).
	failureRetention = 10 * time.Minute
	// Prefixes of the stored keys, as both limiters share the store.
	failurePrefixClient = "client:"
	failurePrefixAddr   = "addr:"
	// failurePrefixAccount counts failed sign-ins per tenant and login.
	failurePrefixAccount = "account:"
)

// failureRow names one stored count.
type failureRow struct {
	instance, key string
	window        int64
}

// failureSharer is the state of ShareFailures.
type failureSharer struct {
	s        *Server
	st       store.AuthFailures
	instance string
	// seen is what was already absorbed of each other instance's row, so
	// that only increments are applied.
	seen      map[failureRow]int64
	lastPurge time.Time
}

// ShareFailures shares failed client authentications with the other
// instances on st until ctx is done, flushing every interval
// (DefaultFailureShareEvery when <= 0). While the store is unreachable the
// counts stay local and are flushed when it is back. It does nothing when
// failure limiting is disabled.
func (s *Server) ShareFailures(ctx context.Context, st store.AuthFailures, every time.Duration) {
	if s.clientLimiter == nil || st == nil {
		return
	}
	if every <= 0 {
		every = DefaultFailureShareEvery
	}
	fs := s.newFailureSharer(st)
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false // log transitions only, not every second of an outage
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			err := fs.sync(ctx)
			switch {
			case ctx.Err() != nil:
			case err != nil && !failing:
				failing = true
				s.log.Warn("cannot share failed authentications; limits hold per instance until the store answers", "err", err)
			case err == nil && failing:
				failing = false
				s.log.Info("sharing failed authentications again")
			}
		}
	}
}

func (s *Server) newFailureSharer(st store.AuthFailures) *failureSharer {
	s.clientLimiter.share()
	s.addrLimiter.share()
	s.accountLimiter.share()
	return &failureSharer{s: s, st: st, instance: rand.Text()[:16], seen: map[failureRow]int64{}}
}

// sync flushes this instance's counts, absorbs the others' and purges old
// rows now and then.
func (fs *failureSharer) sync(ctx context.Context) error {
	now := fs.s.cfg.Now()
	window := now.Truncate(failureWindow)
	clients, addrs, accounts := fs.s.clientLimiter.takePending(), fs.s.addrLimiter.takePending(), fs.s.accountLimiter.takePending()
	counts := make([]store.AuthFailureCount, 0, len(clients)+len(addrs)+len(accounts))
	for k, n := range clients {
		counts = append(counts, store.AuthFailureCount{Instance: fs.instance, Key: failurePrefixClient + k, Window: window, Count: n})
	}
	for k, n := range addrs {
		counts = append(counts, store.AuthFailureCount{Instance: fs.instance, Key: failurePrefixAddr + k, Window: window, Count: n})
	}
	for k, n := range accounts {
		counts = append(counts, store.AuthFailureCount{Instance: fs.instance, Key: failurePrefixAccount + k, Window: window, Count: n})
	}
	if err := fs.st.AddAuthFailures(ctx, counts); err != nil {
		fs.s.clientLimiter.restorePending(clients)
		fs.s.addrLimiter.restorePending(addrs)
		fs.s.accountLimiter.restorePending(accounts)
		return err
	}
	since := window.Add(-failureWindow)
	rows, err := fs.st.ListAuthFailures(ctx, since, fs.instance)
	if err != nil {
		return err
	}
	for _, r := range rows {
		id := failureRow{r.Instance, r.Key, r.Window.Unix()}
		delta := r.Count - fs.seen[id]
		fs.seen[id] = r.Count
		fs.absorb(r.Key, delta, now)
	}
	for id := range fs.seen {
		if id.window < since.Unix() {
			delete(fs.seen, id)
		}
	}
	if now.Sub(fs.lastPurge) >= failureWindow {
		fs.lastPurge = now
		if _, err := fs.st.DeleteAuthFailures(ctx, now.Add(-failureRetention)); err != nil {
			return err
		}
	}
	return nil
}

func (fs *failureSharer) absorb(key string, n int64, now time.Time) {
	if k, ok := strings.CutPrefix(key, failurePrefixClient); ok {
		fs.s.clientLimiter.absorb(k, n, now)
	} else if k, ok := strings.CutPrefix(key, failurePrefixAddr); ok {
		fs.s.addrLimiter.absorb(k, n, now)
	} else if k, ok := strings.CutPrefix(key, failurePrefixAccount); ok {
		fs.s.accountLimiter.absorb(k, n, now)
	}
}
