package storecopy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// count counts the objects of every kind in s.
func count(ctx context.Context, s store.Store) (Counts, error) {
	var c Counts
	steps := []struct {
		name string
		run  func() (int64, error)
	}{
		{"tenants", func() (int64, error) { return length(s.ListTenants(ctx)) }},
		{"scopes", func() (int64, error) { return length(s.ListScopes(ctx)) }},
		{"clients", func() (int64, error) { return length(s.ListClients(ctx, "")) }},
		{"users", func() (int64, error) { return length(listUsers(ctx, s)) }},
		{"signing keys", func() (int64, error) { return length(s.ListSigningKeys(ctx)) }},
		{"revocations", func() (int64, error) { return length(s.ListRevocations(ctx, time.Time{})) }},
		{"audit events", func() (int64, error) {
			return countPages(func(f func([]store.AuditEvent) error) error { return pageAudit(ctx, s, f) })
		}},
		{"api keys", func() (int64, error) {
			return s.CountAPIKeys(ctx)
		}},
		{"usage", func() (int64, error) { return length(s.ListUsage(ctx, store.UsageFilter{})) }},
		{"token usage", func() (int64, error) { return length(s.ListTokenUsage(ctx, store.TokenUsageFilter{})) }},
		{"settings", func() (int64, error) {
			m, err := s.ListSettings(ctx)
			return int64(len(m)), err
		}},
		{"outbox", func() (int64, error) { return length(listOutbox(ctx, s)) }},
	}
	out := []*int64{&c.Tenants, &c.Scopes, &c.Clients, &c.Users, &c.SigningKeys, &c.Revocations,
		&c.AuditEvents, &c.APIKeys, &c.UsageDays, &c.TokenUsageDays, &c.Settings, &c.Outbox}
	for i, step := range steps {
		n, err := step.run()
		if err != nil {
			return c, fmt.Errorf("%s: %w", step.name, err)
		}
		*out[i] = n
	}
	return c, nil
}

func length[T any](items []T, err error) (int64, error) { return int64(len(items)), err }

// listUsers returns the users of every tenant of r; the store lists users
// per tenant only.
func listUsers(ctx context.Context, r store.Reader) ([]store.User, error) {
	tenants, err := r.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.User
	for _, t := range tenants {
		users, err := r.ListUsers(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		out = append(out, users...)
	}
	return out, nil
}

// countPages counts the items a pager delivers.
func countPages[T any](pager func(func([]T) error) error) (int64, error) {
	var n int64
	err := pager(func(items []T) error {
		n += int64(len(items))
		return nil
	})
	return n, err
}

// pageAPIKeys delivers every API key in ID order, size at a time.
func pageAPIKeys(ctx context.Context, kr store.KeyReader, size int, fn func([]store.APIKey) error) error {
	after := ""
	for {
		keys, err := kr.ListAPIKeys(ctx, store.APIKeyFilter{After: after, Limit: size})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if err := fn(keys); err != nil {
			return err
		}
		if len(keys) < size {
			return nil
		}
		after = keys[len(keys)-1].ID
	}
}

// pageAudit delivers every audit event, newest first. Audit pages are
// bounded by time only (AuditFilter.Before is exclusive), so a page must
// not end in the middle of events of one instant: the oldest instant of a
// full page is left for the next page, and a page holding one instant only
// is fetched again, larger. Instants are compared to the microsecond, the
// finest precision every backend keeps.
func pageAudit(ctx context.Context, r store.Reader, fn func([]store.AuditEvent) error) error {
	var before time.Time
	limit := batchSize
	for {
		events, err := r.ListAudit(ctx, store.AuditFilter{Before: before, Limit: limit})
		if err != nil {
			return err
		}
		if len(events) < limit {
			if len(events) == 0 {
				return nil
			}
			return fn(events)
		}
		oldest := events[len(events)-1].Time.Truncate(time.Microsecond)
		cut := len(events)
		for cut > 0 && events[cut-1].Time.Truncate(time.Microsecond).Equal(oldest) {
			cut--
		}
		if cut == 0 {
			limit *= 2 // one instant fills the page
			continue
		}
		if err := fn(events[:cut]); err != nil {
			return err
		}
		before, limit = oldest.Add(time.Microsecond), batchSize
	}
}

// listOutbox returns every outbox message of s, delivered or not.
func listOutbox(ctx context.Context, s store.Store) ([]store.OutboxMessage, error) {
	var out []store.OutboxMessage
	after := ""
	for {
		msgs, err := s.ListOutbox(ctx, after, batchSize)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
		if len(msgs) < batchSize {
			return out, nil
		}
		after = msgs[len(msgs)-1].ID
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
