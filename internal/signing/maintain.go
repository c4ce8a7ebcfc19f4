package signing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// errStateChanged aborts a transaction whose view of the keys went stale
// (another instance rotated at the same moment).
var errStateChanged = errors.New("signing key state changed concurrently")

// plan is the scheduled work Maintain finds to do; a pure function of the
// key records, the time and the configuration decides it.
type plan struct {
	rotate     bool
	remove     []string // retired keys past PublishUntil
	createNext bool
}

func (p plan) empty() bool { return !p.rotate && len(p.remove) == 0 && !p.createNext }

func planMaintenance(rows []store.SigningKey, now time.Time, cfg Config) plan {
	var p plan
	active := newest(withState(rows, store.KeyActive))
	next := oldest(withState(rows, store.KeyNext))
	nextReady := next != nil && !next.ActivateAt.After(now)
	switch {
	case active == nil:
		// Nothing signs: promote a ready next key or, if there is none,
		// rotate to a fresh key at once.
		p.rotate = next == nil || nextReady
	case cfg.RotateEvery > 0 && nextReady:
		p.rotate = !now.Before(active.ActivateAt.Add(cfg.RotateEvery))
	}
	for _, r := range withState(rows, store.KeyRetired) {
		until := r.PublishUntil
		if until.IsZero() {
			until = r.RetiredAt.Add(cfg.MaxTokenTTL)
		}
		if !now.Before(until) {
			p.remove = append(p.remove, r.ID)
		}
	}
	p.createNext = next == nil && !p.rotate // a rotation makes its own next key
	return p
}

func newest(rows []store.SigningKey) *store.SigningKey {
	var out *store.SigningKey
	for i := range rows {
		if out == nil || rows[i].ActivateAt.After(out.ActivateAt) {
			out = &rows[i]
		}
	}
	return out
}

func oldest(rows []store.SigningKey) *store.SigningKey {
	var out *store.SigningKey
	for i := range rows {
		if out == nil || rows[i].ActivateAt.Before(out.ActivateAt) {
			out = &rows[i]
		}
	}
	return out
}

// rotation reports what rotateTx did.
type rotation struct {
	Active  string   `json:"active"`
	Retired []string `json:"retired,omitempty"`
	Next    string   `json:"next"`
	// Early is set when the promoted key had not been published for the
	// whole pre-publication time, or was not published at all.
	Early bool `json:"early,omitempty"`
}

// rotateTx promotes the oldest next key (or a fresh key when there is none),
// retires every active key and creates a new next key.
func (k *Keyring) rotateTx(ctx context.Context, tx store.Tx, rows []store.SigningKey, now time.Time) (rotation, error) {
	var r rotation
	if next := oldest(withState(rows, store.KeyNext)); next != nil {
		r.Active, r.Early = next.ID, next.ActivateAt.After(now)
		err := tx.UpdateSigningKey(ctx, next.ID, func(old store.SigningKey) (store.SigningKey, error) {
			if old.State != store.KeyNext {
				return old, fmt.Errorf("promote %s: %w", old.ID, errStateChanged)
			}
			// From here on ActivateAt records when the key began to sign,
			// which is what the age of the active key is measured from.
			old.State, old.ActivateAt = store.KeyActive, now
			return old, nil
		})
		if err != nil {
			return r, fmt.Errorf("promote signing key %s: %w", next.ID, err)
		}
	} else {
		kid, err := k.createKey(ctx, tx, store.KeyActive, now, now)
		if err != nil {
			return r, err
		}
		r.Active, r.Early = kid, true
	}
	for _, a := range withState(rows, store.KeyActive) {
		err := tx.UpdateSigningKey(ctx, a.ID, func(old store.SigningKey) (store.SigningKey, error) {
			if old.State != store.KeyActive {
				return old, fmt.Errorf("retire %s: %w", old.ID, errStateChanged)
			}
			old.State, old.RetiredAt, old.PublishUntil = store.KeyRetired, now, now.Add(k.cfg.MaxTokenTTL)
			return old, nil
		})
		if err != nil {
			return r, fmt.Errorf("retire signing key %s: %w", a.ID, err)
		}
		r.Retired = append(r.Retired, a.ID)
	}
	next, err := k.createKey(ctx, tx, store.KeyNext, now, now.Add(k.cfg.PrePublish))
	if err != nil {
		return r, err
	}
	r.Next = next
	return r, nil
}

// Rotate promotes the next key to active now, retires the active key (it
// stays published for MaxTokenTTL) and creates a new next key, in one
// transaction with the given audit event. This is the emergency verb: it
// does not wait for the next key's pre-publication time.
//
// When another instance rotates between the call and the transaction, the
// key the caller wanted gone no longer signs, so Rotate does nothing more:
// rotating again would promote the next key that rotation just created,
// before the other instances could publish it.
func (k *Keyring) Rotate(ctx context.Context, audit store.AuditEvent) error {
	now := k.cfg.Now()
	before, err := listOwn(ctx, k.st)
	if err != nil {
		return fmt.Errorf("signing: rotate: %w", err)
	}
	var r rotation
	var concurrent bool
	err = k.st.Tx(ctx, func(tx store.Tx) error {
		if err := lockKeys(ctx, tx, now); err != nil {
			return err
		}
		rows, err := listOwn(ctx, tx)
		if err != nil {
			return err
		}
		if concurrent = rotatedSince(before, rows); concurrent {
			return nil
		}
		if r, err = k.rotateTx(ctx, tx, rows, now); err != nil {
			return err
		}
		return appendAudit(ctx, tx, fillEvent(audit, now, "signing_key.rotate", r.Active, r))
	})
	if err != nil {
		return fmt.Errorf("signing: rotate: %w", err)
	}
	if concurrent {
		k.log.Info("signing keys were rotated concurrently by another instance; not rotating again")
	} else {
		k.logRotation(r, "manual")
	}
	return k.Reload(ctx)
}

// rotatedSince reports whether every key active in before has left the
// active state in now (another instance rotated in between).
func rotatedSince(before, now []store.SigningKey) bool {
	was := withState(before, store.KeyActive)
	if len(was) == 0 {
		return false
	}
	for _, a := range was {
		for _, r := range now {
			if r.ID == a.ID && r.State == store.KeyActive {
				return false
			}
		}
	}
	return true
}

func (k *Keyring) logRotation(r rotation, reason string) {
	if r.Early {
		k.log.Warn("promoted a signing key before its pre-publication time passed; verifiers with an older JWKS cache will refuse its tokens until they refresh",
			"active", r.Active, "retired", r.Retired, "next", r.Next, "reason", reason)
		return
	}
	k.log.Info("rotated signing keys", "active", r.Active, "retired", r.Retired, "next", r.Next, "reason", reason)
}

// Maintain does the scheduled work: it rotates when the active key is older
// than RotateEvery and the next key's pre-publication time has passed,
// deletes retired keys past their PublishUntil, and makes sure a next key
// exists. Each change writes an audit event by the "keyshift" actor.
func (k *Keyring) Maintain(ctx context.Context) error {
	now := k.cfg.Now()
	rows, err := listOwn(ctx, k.st)
	if err != nil {
		return fmt.Errorf("signing: maintain: %w", err)
	}
	if planMaintenance(rows, now, k.cfg).empty() {
		return nil // the common case needs no transaction
	}
	var done plan
	var r rotation
	err = k.st.Tx(ctx, func(tx store.Tx) error {
		if err := lockKeys(ctx, tx, now); err != nil {
			return err
		}
		// Decide again on what the transaction sees.
		rows, err := listOwn(ctx, tx)
		if err != nil {
			return err
		}
		done = planMaintenance(rows, now, k.cfg)
		r, err = k.applyPlan(ctx, tx, rows, done, now)
		return err
	})
	if errors.Is(err, errStateChanged) {
		k.log.Info("signing keys changed concurrently; maintenance deferred")
		return k.Reload(ctx)
	}
	if err != nil {
		return fmt.Errorf("signing: maintain: %w", err)
	}
	if done.rotate {
		k.logRotation(r, "scheduled")
	}
	if len(done.remove) > 0 {
		k.log.Info("deleted retired signing keys", "kids", done.remove)
	}
	return k.Reload(ctx)
}

func (k *Keyring) applyPlan(ctx context.Context, tx store.Tx, rows []store.SigningKey, p plan, now time.Time) (rotation, error) {
	var r rotation
	if p.rotate {
		var err error
		if r, err = k.rotateTx(ctx, tx, rows, now); err != nil {
			return r, err
		}
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.rotate", r.Active, r)); err != nil {
			return r, err
		}
	}
	for _, kid := range p.remove {
		if err := tx.DeleteSigningKey(ctx, kid); err != nil && !errors.Is(err, store.ErrNotFound) {
			return r, fmt.Errorf("delete signing key %s: %w", kid, err)
		}
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.delete", kid, nil)); err != nil {
			return r, err
		}
	}
	if p.createNext {
		kid, err := k.createKey(ctx, tx, store.KeyNext, now, now.Add(k.cfg.PrePublish))
		if err != nil {
			return r, err
		}
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.create", kid, map[string]string{"next": kid})); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Run keeps the keyring current until ctx is done: it reloads on signing
// key changes (and on resync) from the store's change feed, and runs
// Maintain every CheckEvery, reloading then too as a backstop for a lost
// notification.
func (k *Keyring) Run(ctx context.Context) {
	changes := k.st.Subscribe(ctx)
	tick := time.NewTicker(k.cfg.CheckEvery)
	defer tick.Stop()
	k.maintain(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				changes = nil // the feed ended; the ticker still reloads
				continue
			}
			if c.Kind == store.ChangeSigningKey || c.Kind == store.ChangeResync {
				if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
					k.log.Error("reload signing keys", "err", err)
				}
			}
		case <-tick.C:
			k.maintain(ctx)
		}
	}
}

func (k *Keyring) maintain(ctx context.Context) {
	if err := k.Maintain(ctx); err != nil && ctx.Err() == nil {
		k.log.Error("signing key maintenance", "err", err)
	}
	if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
		k.log.Error("reload signing keys", "err", err)
	}
}
