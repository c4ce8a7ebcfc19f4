package apikey

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyshift/keyshift/internal/flushloop"
	"github.com/keyshift/keyshift/internal/store"
)

// flushLoop flushes usage every FlushEvery and once more when ctx is done.
func (s *Service) flushLoop(ctx context.Context) {
	flushloop.Run(ctx, s.cfg.FlushEvery, s.Flush, func(err error, final bool) {
		if final {
			s.log.Error("apikey: final usage flush failed; usage since the last flush is lost", "err", err)
			return
		}
		s.log.Warn("apikey: usage flush failed; its counts are kept for the next one", "err", err)
	})
}

// Flush writes the usage counted since the last successful flush in one
// store transaction. When the write fails, the counts stay in memory and are
// merged into the next flush, so a transient store error loses nothing. A
// transaction reported failed after it committed (a connection lost during
// COMMIT) would count twice when retried; stores make that rare.
//
// Flushes are serialised; Flush may be called at any time (tests, the
// sweeper before it judges idleness, shutdown).
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	batch := MergeUsage(s.pending, s.storeDeltas(s.rec.Drain()))
	if len(batch) == 0 {
		return nil
	}
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		if err := fillTenants(ctx, tx, batch); err != nil {
			return err
		}
		return tx.AddUsage(ctx, batch)
	})
	if err != nil {
		s.pending = batch
		s.metrics.pending.Set(float64(len(batch)))
		s.metrics.flushes.WithLabelValues("error").Inc()
		return fmt.Errorf("flush usage of %d key days: %w", len(batch), err)
	}
	s.pending = nil
	s.metrics.pending.Set(0)
	s.metrics.flushes.WithLabelValues("ok").Inc()
	return nil
}

// storeDeltas converts the recorder's deltas, naming each key's tenant from
// the cache when it is there.
func (s *Service) storeDeltas(ds []UsageDelta) []store.UsageDelta {
	out := make([]store.UsageDelta, 0, len(ds))
	for _, d := range ds {
		sd := ToStoreDelta(d)
		sd.Tenant, _ = s.cache.tenantOf(d.KeyID)
		out = append(out, sd)
	}
	return out
}

// fillTenants asks the store for the tenants the cache no longer knew. A key
// deleted since its use keeps an empty tenant: its usage is still written.
func fillTenants(ctx context.Context, tx store.Tx, batch []store.UsageDelta) error {
	known := map[string]string{}
	for i := range batch {
		d := &batch[i]
		if d.Tenant != "" {
			continue
		}
		t, ok := known[d.KeyID]
		if !ok {
			k, err := tx.GetAPIKey(ctx, d.KeyID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant of key %q: %w", d.KeyID, err)
			}
			t = k.Tenant
			known[d.KeyID] = t
		}
		d.Tenant = t
	}
	return nil
}

// ToStoreDelta converts a recorder delta to the store's form. Refusals keep
// their decision codes; uses counted under an unknown code stay under
// "other".
func ToStoreDelta(d UsageDelta) store.UsageDelta {
	sd := store.UsageDelta{
		KeyID: d.KeyID, Day: d.Day, Accepted: int64(d.Accepted), LastUsedAt: d.LastUsedAt,
		LastIP: d.LastIP, LastUserAgent: d.LastUserAgent,
	}
	if len(d.Refusals) > 0 {
		sd.Refused = make(map[string]int64, len(d.Refusals))
		for code, n := range d.Refusals {
			sd.Refused[code] = int64(n)
		}
	}
	for _, r := range d.Routes {
		sd.Routes = append(sd.Routes, store.RouteCount{Route: r.Route, Count: int64(r.Count)})
	}
	return sd
}

// MergeUsage returns the deltas of a and b combined per key and day, sorted
// by key and day: counts add up, the latest use wins, routes add up and the
// MaxTopRoutes most used are kept. Neither input is modified.
func MergeUsage(a, b []store.UsageDelta) []store.UsageDelta {
	if len(a) == 0 {
		return b
	}
	type dayKey struct {
		id  string
		day int64
	}
	idx := make(map[dayKey]int, len(a)+len(b))
	out := make([]store.UsageDelta, 0, len(a)+len(b))
	for _, d := range slices.Concat(a, b) {
		k := dayKey{d.KeyID, d.Day.Unix()}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			d.Refused = maps.Clone(d.Refused)
			d.Routes = slices.Clone(d.Routes)
			out = append(out, d)
			continue
		}
		out[i] = mergeDelta(out[i], d)
	}
	slices.SortFunc(out, func(x, y store.UsageDelta) int {
		return cmp.Or(strings.Compare(x.KeyID, y.KeyID), x.Day.Compare(y.Day))
	})
	return out
}

// mergeDelta adds d to m, which MergeUsage owns.
func mergeDelta(m, d store.UsageDelta) store.UsageDelta {
	m.Accepted += d.Accepted
	for code, n := range d.Refused {
		if m.Refused == nil {
			m.Refused = map[string]int64{}
		}
		m.Refused[code] += n
	}
	if m.Tenant == "" {
		m.Tenant = d.Tenant
	}
	if !d.LastUsedAt.Before(m.LastUsedAt) {
		m.LastUsedAt, m.LastIP, m.LastUserAgent = d.LastUsedAt, d.LastIP, d.LastUserAgent
	}
	for _, r := range d.Routes {
		if i := slices.IndexFunc(m.Routes, func(x store.RouteCount) bool { return x.Route == r.Route }); i >= 0 {
			m.Routes[i].Count += r.Count
		} else {
			m.Routes = append(m.Routes, r)
		}
	}
	slices.SortStableFunc(m.Routes, func(x, y store.RouteCount) int { return cmp.Compare(y.Count, x.Count) })
	if len(m.Routes) > MaxTopRoutes {
		m.Routes = m.Routes[:MaxTopRoutes]
	}
	return m
}
