// Package storecopy moves a keyshift installation from one store backend to
// another, e.g. from a single machine's SQLite file to a shared PostgreSQL
// database (`keyshift store copy --from … --to …`).
//
// Copy reads the source only through store.Store (plus the optional
// interfaces below), writes the destination in batched transactions, then
// counts every kind again on the destination to verify the copy. It refuses
// a destination that holds anything, so it never merges two installations.
// Run it with the source installation stopped, or at least with no admin
// writes: it does not take a snapshot.
//
// Grant records (authorization and device codes, refresh token families,
// sessions, consents, used client-assertion ids) are not copied: they are
// short-lived state of flows in progress, and an installation stopped for
// the move has none worth keeping. People sign in again and apps start new
// authorizations against the destination.
package storecopy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Counts is the number of objects of each kind.
type Counts struct {
	Tenants     int64 `json:"tenants"`
	Scopes      int64 `json:"scopes"`
	Clients     int64 `json:"clients"`
	Users       int64 `json:"users"`
	SigningKeys int64 `json:"signing_keys"`
	Revocations int64 `json:"revocations"`
	AuditEvents int64 `json:"audit_events"`
	APIKeys     int64 `json:"api_keys"`
	UsageDays   int64 `json:"usage_days"`
	// TokenUsageDays counts the per-client, per-day token request rows.
	TokenUsageDays int64 `json:"token_usage_days"`
	Settings       int64 `json:"settings"`
	Outbox         int64 `json:"outbox"`
}

// Total is the number of objects of every kind.
func (c Counts) Total() int64 {
	return c.Tenants + c.Scopes + c.Clients + c.Users + c.SigningKeys + c.Revocations +
		c.AuditEvents + c.APIKeys + c.UsageDays + c.TokenUsageDays + c.Settings + c.Outbox
}

// kinds lists the counts by name, for messages.
func (c Counts) kinds() []kindCount {
	return []kindCount{{"tenants", c.Tenants}, {"scopes", c.Scopes}, {"clients", c.Clients},
		{"users", c.Users}, {"signing keys", c.SigningKeys}, {"revocations", c.Revocations},
		{"audit events", c.AuditEvents}, {"api keys", c.APIKeys}, {"usage days", c.UsageDays},
		{"token usage days", c.TokenUsageDays},
		{"settings", c.Settings}, {"outbox messages", c.Outbox}}
}

type kindCount struct {
	name string
	n    int64
}

// ErrDestinationNotEmpty is returned when the destination holds any object.
var ErrDestinationNotEmpty = errors.New("destination store is not empty")

// ErrVerification is returned when the destination's counts after the copy
// differ from the source's.
var ErrVerification = errors.New("copy verification failed")

// BatchTimeout is the store timeout to open both stores of a copy with:
// one batch (up to keyBatchSize keys in one transaction) is a bulk write,
// not a request, and may take far longer than a request's few seconds on
// a loaded machine.
const BatchTimeout = 2 * time.Minute

// batchSize is how many objects one destination transaction writes.
const batchSize = 1000

// keyBatchSize is batchSize for API keys, the kind that may number millions.
const keyBatchSize = 5000

// Copy copies every object of from into to, which must be empty, and
// verifies the counts of each kind afterwards. progress, when not nil, is
// called after every batch with the objects copied so far and the total.
// It returns the counts copied.
func Copy(ctx context.Context, from, to store.Store, progress func(done, total int64)) (Counts, error) {
	dst, err := count(ctx, to)
	if err != nil {
		return Counts{}, fmt.Errorf("storecopy: count destination: %w", err)
	}
	if n := dst.Total(); n > 0 {
		return Counts{}, fmt.Errorf("storecopy: %w: it holds %d objects", ErrDestinationNotEmpty, n)
	}
	src, err := count(ctx, from)
	if err != nil {
		return Counts{}, fmt.Errorf("storecopy: count source: %w", err)
	}
	c := &copier{from: from, to: to, total: src.Total(), progress: progress}
	c.report()
	steps := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"tenants", c.tenants}, {"scopes", c.scopes}, {"clients", c.clients},
		{"users", c.users}, {"signing keys", c.signingKeys}, {"revocations", c.revocations},
		{"audit events", c.audit}, {"api keys", c.apiKeys}, {"usage", c.usage},
		{"token usage", c.tokenUsage},
		{"settings", c.settings}, {"outbox", c.outbox},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return c.copied, fmt.Errorf("storecopy: copy %s: %w", s.name, err)
		}
	}
	got, err := count(ctx, to)
	if err != nil {
		return c.copied, fmt.Errorf("storecopy: verify: %w", err)
	}
	if err := verify(c.copied, got); err != nil {
		return c.copied, fmt.Errorf("storecopy: %w", err)
	}
	return c.copied, nil
}

// verify compares what was copied with what the destination holds.
func verify(copied, got Counts) error {
	var errs []error
	want, have := copied.kinds(), got.kinds()
	for i := range want {
		if want[i].n != have[i].n {
			errs = append(errs, fmt.Errorf("%s: copied %d, destination holds %d",
				want[i].name, want[i].n, have[i].n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrVerification, errors.Join(errs...))
	}
	return nil
}

// copier carries the state of one copy.
type copier struct {
	from     store.Store
	to       store.Store
	copied   Counts
	done     int64
	total    int64
	progress func(done, total int64)
}

func (c *copier) report() {
	if c.progress != nil {
		c.progress(c.done, max(c.total, c.done))
	}
}

// write runs fn on the destination in one transaction and counts n objects.
func (c *copier) write(ctx context.Context, counter *int64, n int, fn func(tx store.Tx) error) error {
	if n == 0 {
		return nil
	}
	if err := c.to.Tx(ctx, fn); err != nil {
		return err
	}
	*counter += int64(n)
	c.done += int64(n)
	c.report()
	return nil
}

// writeAll writes items in batches with put.
func writeAll[T any](ctx context.Context, c *copier, counter *int64, items []T,
	put func(ctx context.Context, tx store.Tx, v T) error) error {
	for start := 0; start < len(items); start += batchSize {
		batch := items[start:min(start+batchSize, len(items))]
		err := c.write(ctx, counter, len(batch), func(tx store.Tx) error {
			for _, v := range batch {
				if err := put(ctx, tx, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) tenants(ctx context.Context) error {
	items, err := c.from.ListTenants(ctx)
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.Tenants, items, func(ctx context.Context, tx store.Tx, v store.Tenant) error {
		return tx.CreateTenant(ctx, v)
	})
}

func (c *copier) scopes(ctx context.Context) error {
	items, err := c.from.ListScopes(ctx)
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.Scopes, items, func(ctx context.Context, tx store.Tx, v store.Scope) error {
		return tx.PutScope(ctx, v)
	})
}

func (c *copier) clients(ctx context.Context) error {
	items, err := c.from.ListClients(ctx, "")
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.Clients, items, func(ctx context.Context, tx store.Tx, v store.Client) error {
		return tx.CreateClient(ctx, v)
	})
}

// users copies every tenant's users, password hashes included.
func (c *copier) users(ctx context.Context) error {
	items, err := listUsers(ctx, c.from)
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.Users, items, func(ctx context.Context, tx store.Tx, v store.User) error {
		return tx.CreateUser(ctx, v)
	})
}

// signingKeys copies keys with their private part still sealed: the
// destination needs the same sealing key as the source.
func (c *copier) signingKeys(ctx context.Context) error {
	items, err := c.from.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.SigningKeys, items, func(ctx context.Context, tx store.Tx, v store.SigningKey) error {
		return tx.CreateSigningKey(ctx, v)
	})
}

// revocations copies every revocation, expired ones included (the zero
// time lists them all).
func (c *copier) revocations(ctx context.Context) error {
	items, err := c.from.ListRevocations(ctx, time.Time{})
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.Revocations, items, func(ctx context.Context, tx store.Tx, v store.Revocation) error {
		return tx.CreateRevocation(ctx, v)
	})
}

func (c *copier) audit(ctx context.Context) error {
	return pageAudit(ctx, c.from, func(events []store.AuditEvent) error {
		return c.write(ctx, &c.copied.AuditEvents, len(events), func(tx store.Tx) error {
			// Oldest first, so events of one instant list in the same order
			// on the destination (newest inserted first).
			for i := len(events) - 1; i >= 0; i-- {
				if err := tx.AppendAudit(ctx, events[i]); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// apiKeys reads the next page of keys while the previous one is written.
func (c *copier) apiKeys(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []store.APIKey, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(pages)
		readErr <- pageAPIKeys(ctx, c.from, keyBatchSize, func(keys []store.APIKey) error {
			select {
			case pages <- keys:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for keys := range pages {
		if err := c.writeAPIKeys(ctx, keys); err != nil {
			cancel()
			for range pages { // let the reader finish
			}
			return err
		}
	}
	return <-readErr
}

func (c *copier) writeAPIKeys(ctx context.Context, keys []store.APIKey) error {
	return c.write(ctx, &c.copied.APIKeys, len(keys), func(tx store.Tx) error {
		return tx.CreateAPIKeys(ctx, keys)
	})
}

func (c *copier) usage(ctx context.Context) error {
	days, err := c.from.ListUsage(ctx, store.UsageFilter{})
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.UsageDays, days, func(ctx context.Context, tx store.Tx, u store.UsageDay) error {
		ktx, ok := tx.(store.KeyTx)
		if !ok {
			return errors.New("destination transaction has no API key methods")
		}
		// Added to an empty destination, the delta is the day itself.
		return ktx.AddUsage(ctx, []store.UsageDelta{{KeyID: u.KeyID, Tenant: u.Tenant, Day: u.Day,
			Accepted: u.Accepted, Refused: u.Refused, LastUsedAt: u.LastUsedAt, LastIP: u.LastIP,
			LastUserAgent: u.LastUserAgent, Routes: u.Routes}})
	})
}

// tokenUsage copies the token request counts, one flush-sized delta per
// batch: added to an empty destination, a day's delta is the day itself.
func (c *copier) tokenUsage(ctx context.Context) error {
	days, err := c.from.ListTokenUsage(ctx, store.TokenUsageFilter{})
	if err != nil {
		return err
	}
	for start := 0; start < len(days); start += batchSize {
		part := days[start:min(start+batchSize, len(days))]
		deltas := make([]store.TokenUsageDelta, 0, len(part))
		for _, u := range part {
			deltas = append(deltas, store.TokenUsageDelta(u))
		}
		err := c.write(ctx, &c.copied.TokenUsageDays, len(part), func(tx store.Tx) error {
			return tx.AddTokenUsage(ctx, deltas)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) settings(ctx context.Context) error {
	all, err := c.from.ListSettings(ctx)
	if err != nil {
		return err
	}
	names := sortedKeys(all)
	return writeAll(ctx, c, &c.copied.Settings, names, func(ctx context.Context, tx store.Tx, name string) error {
		return tx.PutSetting(ctx, name, all[name])
	})
}

func (c *copier) outbox(ctx context.Context) error {
	msgs, err := listOutbox(ctx, c.from)
	if err != nil {
		return err
	}
	return writeAll(ctx, c, &c.copied.Outbox, msgs, func(ctx context.Context, tx store.Tx, m store.OutboxMessage) error {
		return tx.EnqueueOutbox(ctx, m)
	})
}
