package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/internal/store"
)

// Reasons of automatic disabling, in audit details and outbox payloads.
const (
	// DisableScheduled: the key's DisableAt (set when it was converted to
	// an OAuth client) is reached.
	DisableScheduled = "scheduled"
	// DisableUnused: the tenant key was not used for the timeline's
	// disable_unused_after_days (see UnusedDisable).
	DisableUnused = "unused"
)

// Names the sweeper writes into audit events and outbox messages.
const (
	SweepActor          = "keyshift"
	ActionAutoDisable   = "api_key.auto_disable"
	objectTypeAPIKey    = "api_key"
	defaultSweepEvery   = time.Minute
	defaultSweepPageLen = 1000
)

// SweepConfig configures a Sweeper. Zero fields take the defaults.
type SweepConfig struct {
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Every is the interval between sweeps; default 1 min.
	Every time.Duration
	// BeforeSweep, when set, runs before each sweep; pass Service.Flush so
	// that idleness is judged on usage counted up to that moment.
	BeforeSweep func(context.Context) error
	// PageSize is how many keys are read per store query; default 1000.
	PageSize int
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// NotifyDisabled, when set, runs inside each disabling transaction so
	// the notification commits with the change (the server passes
	// notify.KeyDisabled; apikey cannot import notify, which imports it).
	NotifyDisabled func(ctx context.Context, tx store.KeyTx, k store.APIKey, reason, by string, now time.Time) error
}

// Sweeper disables keys automatically: keys whose DisableAt is reached and,
// when the timeline asks for it, tenant keys unused for too long. Each key
// is disabled in its own transaction, together with an audit event and
// (through SweepConfig.NotifyDisabled) its notification, so a notification
// is sent exactly for the changes that committed.
type Sweeper struct {
	st       store.Store
	cfg      SweepConfig
	log      *slog.Logger
	disabled *prometheus.CounterVec
}

// Disabled is one key a sweep disabled.
type Disabled struct {
	KeyID  string `json:"key_id"`
	Tenant string `json:"-"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// NewSweeper returns a Sweeper on st.
func NewSweeper(st store.Store, cfg SweepConfig) (*Sweeper, error) {
	if st == nil {
		return nil, errors.New("apikey: nil store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Every <= 0 {
		cfg.Every = defaultSweepEvery
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = defaultSweepPageLen
	}
	w := &Sweeper{st: st, cfg: cfg, log: cfg.Logger,
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_api_key_auto_disabled_total",
			Help: "API keys disabled automatically, by reason (scheduled, unused).",
		}, []string{"reason"}),
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(w.disabled); err != nil {
			return nil, fmt.Errorf("register sweeper metrics: %w", err)
		}
	}
	return w, nil
}

// Run sweeps every Every until ctx is done.
func (w *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
				w.log.Log(ctx, store.LogLevel(err), "apikey: key sweep failed", "err", err)
			}
		}
	}
}

// Sweep runs one pass and returns the keys it disabled. A key that fails
// to be disabled is logged and left for the next pass; the others proceed.
func (w *Sweeper) Sweep(ctx context.Context) ([]Disabled, error) {
	if w.cfg.BeforeSweep != nil {
		if err := w.cfg.BeforeSweep(ctx); err != nil {
			// Idleness judged on stale usage could disable a key in use.
			return nil, fmt.Errorf("sweep: before sweep: %w", err)
		}
	}
	tl, err := LoadTimeline(ctx, w.st)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	now := w.cfg.Now()
	due, err := w.dueKeys(ctx, tl, now)
	if err != nil {
		return nil, err
	}
	var done []Disabled
	var errs []error
	for _, d := range due {
		ok, err := w.disable(ctx, tl, d, now)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			w.disabled.WithLabelValues(d.Reason).Inc()
			w.log.Info("apikey: key disabled automatically", "key_id", d.KeyID, "tenant", d.Tenant, "reason", d.Reason)
			done = append(done, d)
		}
	}
	return done, errors.Join(errs...)
}

// dueKeys lists the active keys due to be disabled at now, page by page.
func (w *Sweeper) dueKeys(ctx context.Context, tl Timeline, now time.Time) ([]Disabled, error) {
	var due []Disabled
	f := store.APIKeyFilter{Status: store.StatusActive, Limit: w.cfg.PageSize}
	for {
		page, err := w.st.ListAPIKeys(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("sweep: list keys: %w", err)
		}
		for _, k := range page {
			if reason := disableReason(tl, k, now); reason != "" {
				due = append(due, Disabled{KeyID: k.ID, Tenant: k.Tenant, Name: k.Name, Reason: reason})
			}
		}
		if len(page) < f.Limit {
			return due, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// disableReason says why key k is to be disabled at now, or "".
func disableReason(tl Timeline, k store.APIKey, now time.Time) string {
	switch {
	case k.Status != store.StatusActive:
		return ""
	case k.DisableAt != nil && !now.Before(*k.DisableAt):
		return DisableScheduled
	case UnusedDisable(tl, KeyFromStore(k), time.Time{}, now):
		return DisableUnused
	}
	return ""
}

// errNoLongerDue aborts a disabling transaction whose key changed since it
// was listed.
var errNoLongerDue = errors.New("key no longer due")

// disable disables one key with its audit event and outbox message, after
// checking again, inside the transaction, that it is still due.
func (w *Sweeper) disable(ctx context.Context, tl Timeline, d Disabled, now time.Time) (bool, error) {
	details, err := json.Marshal(map[string]string{"reason": d.Reason})
	if err != nil {
		return false, fmt.Errorf("disable key %q: %w", d.KeyID, err)
	}
	err = w.st.Tx(ctx, func(tx store.Tx) error {
		var disabled store.APIKey
		err := tx.UpdateAPIKey(ctx, d.KeyID, func(k store.APIKey) (store.APIKey, error) {
			if disableReason(tl, k, now) != d.Reason {
				return k, errNoLongerDue
			}
			k.Status, k.UpdatedAt = store.StatusDisabled, now
			disabled = k
			return k, nil
		})
		if err != nil {
			return err
		}
		err = tx.AppendAudit(ctx, store.AuditEvent{
			Time: now, Actor: SweepActor, ActorTenant: store.PlatformTenant, Tenant: d.Tenant,
			Action: ActionAutoDisable, ObjectType: objectTypeAPIKey, ObjectID: d.KeyID, Details: details,
		})
		if err != nil || w.cfg.NotifyDisabled == nil {
			return err
		}
		return w.cfg.NotifyDisabled(ctx, tx, disabled, d.Reason, SweepActor, now)
	})
	switch {
	case errors.Is(err, errNoLongerDue), errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("disable key %q: %w", d.KeyID, err)
	}
	return true, nil
}
