package signing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// errStateChanged aborts a transaction whose view of the keys went stale
// (another instance rotated at the same moment).
var errStateChanged = errors.New("signing key state changed concurrently")

// plan is the scheduled work Maintain finds to do; a pure function of the
// key records, the time and the configuration decides it. Each kept
// algorithm's keys follow their own schedule.
type plan struct {
	rotate     []string // algorithms whose active key is due (or missing)
	createNext []string // algorithms without a next key that are not rotating
	remove     []string // retired keys past PublishUntil, of any algorithm
	retire     []string // active and next keys of algorithms no longer kept
}

func (p plan) empty() bool {
	return len(p.rotate) == 0 && len(p.createNext) == 0 && len(p.remove) == 0 && len(p.retire) == 0
}

// planMaintenance decides the work on rows for cfg, which must have its
// defaults.
func planMaintenance(rows []store.SigningKey, now time.Time, cfg Config) plan {
	var p plan
	kept := cfg.algs()
	for _, alg := range kept {
		rotate, createNext := planAlg(ofAlg(rows, alg), now, cfg)
		if rotate {
			p.rotate = append(p.rotate, alg)
		}
		if createNext {
			p.createNext = append(p.createNext, alg)
		}
	}
	for _, r := range rows {
		switch {
		case r.State == store.KeyRetired:
			until := r.PublishUntil
			if until.IsZero() {
				until = r.RetiredAt.Add(cfg.MaxTokenTTL)
			}
			if !now.Before(until) {
				p.remove = append(p.remove, r.ID)
			}
		case !slices.Contains(kept, r.Alg):
			// Retired, not deleted: tokens the key signed keep verifying
			// until they expire.
			p.retire = append(p.retire, r.ID)
		}
	}
	return p
}

// planAlg decides the rotation of one algorithm's keys.
func planAlg(rows []store.SigningKey, now time.Time, cfg Config) (rotate, createNext bool) {
	active := newest(withState(rows, store.KeyActive))
	next := oldest(withState(rows, store.KeyNext))
	nextReady := next != nil && !next.ActivateAt.After(now)
	switch {
	case active == nil:
		// Nothing signs: promote a ready next key or, if there is none,
		// rotate to a fresh key at once.
		rotate = next == nil || nextReady
	case cfg.RotateEvery > 0 && nextReady:
		rotate = !now.Before(active.ActivateAt.Add(cfg.RotateEvery))
	}
	return rotate, next == nil && !rotate // a rotation makes its own next key
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

// rotation reports what rotateTx did to one algorithm's keys.
type rotation struct {
	Active  string   `json:"active"`
	Retired []string `json:"retired,omitempty"`
	Next    string   `json:"next"`
	// Early is set when the promoted key had not been published for the
	// whole pre-publication time, or was not published at all.
	Early bool `json:"early,omitempty"`
}

// rotations are the rotations of one transaction by algorithm; they are
// the details of its one "signing_key.rotate" audit event.
type rotations map[string]rotation

// object is the audit object of a rotation: the new active key of the
// first algorithm of algs that rotated.
func (rs rotations) object(algs []string) string {
	for _, alg := range algs {
		if r, ok := rs[alg]; ok {
			return r.Active
		}
	}
	return ""
}

// rotateTx promotes alg's oldest next key (or a fresh key when there is
// none), retires alg's every active key and creates a new next key. rows
// are alg's keys.
func (k *Keyring) rotateTx(ctx context.Context, tx store.Tx, alg string, rows []store.SigningKey, now time.Time) (rotation, error) {
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
			return r, fmt.Errorf("promote %s signing key %s: %w", alg, next.ID, err)
		}
	} else {
		kid, err := k.createKey(ctx, tx, alg, store.KeyActive, now, now)
		if err != nil {
			return r, err
		}
		r.Active, r.Early = kid, true
	}
	for _, a := range withState(rows, store.KeyActive) {
		if err := k.retireTx(ctx, tx, a.ID, store.KeyActive, now); err != nil {
			return r, err
		}
		r.Retired = append(r.Retired, a.ID)
	}
	next, err := k.createKey(ctx, tx, alg, store.KeyNext, now, now.Add(k.cfg.PrePublish))
	if err != nil {
		return r, err
	}
	r.Next = next
	return r, nil
}

// retireTx retires the key kid, which must still be in state from.
func (k *Keyring) retireTx(ctx context.Context, tx store.Tx, kid, from string, now time.Time) error {
	err := tx.UpdateSigningKey(ctx, kid, func(old store.SigningKey) (store.SigningKey, error) {
		if old.State != from {
			return old, fmt.Errorf("retire %s: %w", old.ID, errStateChanged)
		}
		old.State, old.RetiredAt, old.PublishUntil = store.KeyRetired, now, now.Add(k.cfg.MaxTokenTTL)
		return old, nil
	})
	if err != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, err)
	}
	return nil
}

// Rotate rotates the keys of every kept algorithm: for each, it promotes
// the next key to active now, retires the active key (it stays published
// for MaxTokenTTL) and creates a new next key, all in one transaction with
// the given audit event. This is the emergency verb: it does not wait for
// the next keys' pre-publication time.
//
// When another instance rotates an algorithm's keys between the call and
// the transaction, the key the caller wanted gone no longer signs, so
// Rotate leaves that algorithm alone: rotating again would promote the next
// key that rotation just created, before the other instances could publish
// it.
func (k *Keyring) Rotate(ctx context.Context, audit store.AuditEvent) error {
	return k.rotate(ctx, audit, k.algs)
}

// RotateAlg is Rotate for the keys of one kept algorithm.
func (k *Keyring) RotateAlg(ctx context.Context, alg string, audit store.AuditEvent) error {
	if !slices.Contains(k.algs, alg) {
		return fmt.Errorf("signing: rotate: alg %q is not kept (keyshift keeps keys for %s)", alg, strings.Join(k.algs, ", "))
	}
	return k.rotate(ctx, audit, []string{alg})
}

func (k *Keyring) rotate(ctx context.Context, audit store.AuditEvent, algs []string) error {
	now := k.cfg.Now()
	before, err := listOwn(ctx, k.st)
	if err != nil {
		return fmt.Errorf("signing: rotate: %w", err)
	}
	var done rotations
	var concurrent []string
	err = k.st.Tx(ctx, func(tx store.Tx) error {
		done, concurrent = rotations{}, nil // a retried transaction starts again
		if err := lockKeys(ctx, tx, now); err != nil {
			return err
		}
		rows, err := listOwn(ctx, tx)
		if err != nil {
			return err
		}
		for _, alg := range algs {
			own := ofAlg(rows, alg)
			if rotatedSince(ofAlg(before, alg), own) {
				concurrent = append(concurrent, alg)
				continue
			}
			if done[alg], err = k.rotateTx(ctx, tx, alg, own, now); err != nil {
				return err
			}
		}
		if len(done) == 0 {
			return nil
		}
		return appendAudit(ctx, tx, fillEvent(audit, now, "signing_key.rotate", done.object(algs), done))
	})
	if err != nil {
		return fmt.Errorf("signing: rotate: %w", err)
	}
	if len(concurrent) > 0 {
		k.log.Info("signing keys were rotated concurrently by another instance; not rotating them again", "algs", concurrent)
	}
	k.logRotations(done, "manual")
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

func (k *Keyring) logRotations(rs rotations, reason string) {
	for _, alg := range k.algs {
		r, ok := rs[alg]
		if !ok {
			continue
		}
		if r.Early {
			k.log.Warn("promoted a signing key before its pre-publication time passed; verifiers with an older JWKS cache will refuse its tokens until they refresh",
				"alg", alg, "active", r.Active, "retired", r.Retired, "next", r.Next, "reason", reason)
			continue
		}
		k.log.Info("rotated signing keys", "alg", alg, "active", r.Active, "retired", r.Retired, "next", r.Next, "reason", reason)
	}
}

// Maintain does the scheduled work, for each kept algorithm on its own: it
// rotates when the active key is older than RotateEvery and the next key's
// pre-publication time has passed (or at once when there is no active
// key), and makes sure a next key exists. It deletes retired keys past
// their PublishUntil and retires the keys of algorithms no longer kept.
// Each change writes an audit event by the "keyshift" actor.
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
	var rs rotations
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
		rs, err = k.applyPlan(ctx, tx, rows, done, now)
		return err
	})
	if errors.Is(err, errStateChanged) {
		k.log.Info("signing keys changed concurrently; maintenance deferred")
		return k.Reload(ctx)
	}
	if err != nil {
		return fmt.Errorf("signing: maintain: %w", err)
	}
	k.logRotations(rs, "scheduled")
	if len(done.remove) > 0 {
		k.log.Info("deleted retired signing keys", "kids", done.remove)
	}
	if len(done.retire) > 0 {
		k.log.Warn("retired the signing keys of algorithms this instance does not keep; every instance sharing the store must keep the same algorithms",
			"kids", done.retire, "kept", k.algs)
	}
	return k.Reload(ctx)
}

func (k *Keyring) applyPlan(ctx context.Context, tx store.Tx, rows []store.SigningKey, p plan, now time.Time) (rotations, error) {
	rs := rotations{}
	for _, alg := range p.rotate {
		r, err := k.rotateTx(ctx, tx, alg, ofAlg(rows, alg), now)
		if err != nil {
			return rs, err
		}
		rs[alg] = r
	}
	if len(rs) > 0 {
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.rotate", rs.object(k.algs), rs)); err != nil {
			return rs, err
		}
	}
	for _, kid := range p.remove {
		if err := tx.DeleteSigningKey(ctx, kid); err != nil && !errors.Is(err, store.ErrNotFound) {
			return rs, fmt.Errorf("delete signing key %s: %w", kid, err)
		}
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.delete", kid, nil)); err != nil {
			return rs, err
		}
	}
	for _, kid := range p.retire {
		i := slices.IndexFunc(rows, func(r store.SigningKey) bool { return r.ID == kid })
		if err := k.retireTx(ctx, tx, kid, rows[i].State, now); err != nil {
			return rs, err
		}
		details := map[string]string{"alg": rows[i].Alg, "reason": "alg no longer kept"}
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.retire", kid, details)); err != nil {
			return rs, err
		}
	}
	for _, alg := range p.createNext {
		kid, err := k.createKey(ctx, tx, alg, store.KeyNext, now, now.Add(k.cfg.PrePublish))
		if err != nil {
			return rs, err
		}
		details := map[string]map[string]string{alg: {"next": kid}}
		if err := appendAudit(ctx, tx, systemEvent(now, "signing_key.create", kid, details)); err != nil {
			return rs, err
		}
	}
	return rs, nil
}

// Run keeps the keyring current until ctx is done: it reloads on signing
// key changes (and on resync) from the store's change feed, and runs
// Maintain every CheckEvery, reloading then too as a backstop for a lost
// notification.
//
// The feed is followed on a goroutine of its own: a write of this instance
// (a rotation) waits until the keyring has reloaded, and Maintain's own
// writes must not wait for the loop that runs them.
func (k *Keyring) Run(ctx context.Context) {
	sub := k.st.Follow(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.follow(ctx, sub)
	}()
	defer func() { <-done }()
	tick := time.NewTicker(k.cfg.CheckEvery)
	defer tick.Stop()
	k.maintain(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			k.maintain(ctx)
		}
	}
}

// follow reloads the keys on every signing key change or resync until the
// feed ends, reporting each change applied.
func (k *Keyring) follow(ctx context.Context, sub *store.Subscription) {
	for c := range sub.C {
		if c.Kind == store.ChangeSigningKey || c.Kind == store.ChangeResync {
			if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
				k.logFailure(ctx, "reload signing keys", err)
			}
		}
		sub.Applied(c)
	}
}

func (k *Keyring) maintain(ctx context.Context) {
	if err := k.Maintain(ctx); err != nil && ctx.Err() == nil {
		k.logFailure(ctx, "signing key maintenance", err)
	}
	if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
		k.logFailure(ctx, "reload signing keys", err)
	}
}

// logFailure logs a failed background step: at WARN when the store is
// unavailable (an outage the next tick retries, the published keys keep
// signing), at ERROR otherwise.
func (k *Keyring) logFailure(ctx context.Context, msg string, err error) {
	k.log.Log(ctx, store.LogLevel(err), msg, "err", err)
}
