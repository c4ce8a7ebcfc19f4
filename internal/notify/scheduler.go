package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// SchedulerSetting is the settings document where the scheduler keeps the
// end of the window it last planned, shared by every instance.
const SchedulerSetting = "notify:scheduler"

type schedulerState struct {
	LastRun time.Time `json:"last_run"`
}

// RunScheduler plans the timeline's notifications every ScheduleEvery until
// ctx is done. Errors are logged; the next round plans the missed window.
func (n *Notifier) RunScheduler(ctx context.Context) {
	tick := time.NewTicker(n.cfg.ScheduleEvery)
	defer tick.Stop()
	for {
		if _, err := n.ScheduleDue(ctx); err != nil {
			n.logErr(ctx, "notify: scheduling notifications failed", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ScheduleDue plans the notifications triggered since the last round (see
// Plan) into the outbox, each in its own transaction, and returns how many
// were new. A message whose ID is already stored was planned by an earlier
// round or another instance and is skipped. The window end is stored only
// when every message is in, so a failed round is planned again.
func (n *Notifier) ScheduleDue(ctx context.Context) (int, error) {
	now := n.cfg.Now().UTC()
	t, err := apikey.LoadTimeline(ctx, n.st)
	if err != nil {
		return 0, err
	}
	last, err := n.lastRun(ctx)
	if err != nil {
		return 0, err
	}
	var msgs []store.OutboxMessage
	if probe := Plan(now, last, t, probeTenants(t)); len(probe) > 0 {
		// Something is due for somebody: only now read tenants and keys.
		tenants, err := n.tenantStates(ctx, apikey.MidnightUTC(now).Add(-24*time.Hour), hasTopic(probe, TopicOperatorDigest))
		if err != nil {
			return 0, err
		}
		msgs = Plan(now, last, t, tenants)
	}
	added := 0
	for _, m := range msgs {
		err := n.st.Tx(ctx, func(tx store.Tx) error { return tx.EnqueueOutbox(ctx, m) })
		switch {
		case errors.Is(err, store.ErrAlreadyExists):
		case err != nil:
			return added, fmt.Errorf("plan notification %q: %w", m.ID, err)
		default:
			added++
			n.m.enqueued.WithLabelValues(m.Topic).Inc()
		}
	}
	raw, err := json.Marshal(schedulerState{LastRun: now})
	if err != nil {
		return added, err
	}
	if err := n.st.Tx(ctx, func(tx store.Tx) error { return tx.PutSetting(ctx, SchedulerSetting, raw) }); err != nil {
		return added, fmt.Errorf("store scheduler state: %w", err)
	}
	if added > 0 {
		n.cfg.Logger.Info("notify: notifications planned", "count", added)
	}
	return added, nil
}

func (n *Notifier) lastRun(ctx context.Context) (time.Time, error) {
	raw, err := n.st.GetSetting(ctx, SchedulerSetting)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil // Plan catches up MaxCatchUp at most
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("load scheduler state: %w", err)
	}
	var s schedulerState
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("decode scheduler state: %w", err)
	}
	return s.LastRun, nil
}

// probeTenants stands for every tenant the timeline can concern, so that a
// Plan over them says whether anything at all is due before the tenants and
// their keys are read: one without extension (global milestones and
// windows), each extended one, and each one a brownout lists.
func probeTenants(t apikey.Timeline) []TenantState {
	// No real tenant ID starts with a space (admin validation).
	out := []TenantState{{ID: " probe", ActiveKeys: 1}}
	for _, x := range t.Extensions {
		out = append(out, TenantState{ID: x.Tenant, ActiveKeys: 1})
	}
	for _, b := range t.Brownouts {
		for _, tenant := range b.Tenants {
			out = append(out, TenantState{ID: tenant, ActiveKeys: 1})
		}
	}
	return out
}

func hasTopic(msgs []store.OutboxMessage, topic string) bool {
	for _, m := range msgs {
		if m.Topic == topic {
			return true
		}
	}
	return false
}

// tenantStates reads the active tenants and their active tenant-owned keys,
// with the keys' use on day when withUsage is set (for digests).
func (n *Notifier) tenantStates(ctx context.Context, day time.Time, withUsage bool) ([]TenantState, error) {
	tenants, err := n.st.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	var usage map[string]store.UsageDay
	if withUsage {
		if usage, err = n.usageOn(ctx, day); err != nil {
			return nil, err
		}
	}
	out := make([]TenantState, 0, len(tenants))
	for _, tn := range tenants {
		if tn.ID == store.PlatformTenant || tn.Status != store.StatusActive {
			continue
		}
		ts := TenantState{ID: tn.ID}
		err := n.eachActiveKey(ctx, tn.ID, func(k store.APIKey) {
			ts.ActiveKeys++
			if withUsage {
				ts.Keys = append(ts.Keys, activity(k, usage[k.ID]))
			}
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, nil
}

// eachActiveKey calls fn for each active tenant-owned key of tenant, a page
// at a time.
func (n *Notifier) eachActiveKey(ctx context.Context, tenant string, fn func(store.APIKey)) error {
	f := store.APIKeyFilter{Tenant: tenant, Owner: store.OwnerTenant, Status: store.StatusActive, Limit: 1000}
	for {
		page, err := n.st.ListAPIKeys(ctx, f)
		if err != nil {
			return fmt.Errorf("list keys of tenant %q: %w", tenant, err)
		}
		for _, k := range page {
			fn(k)
		}
		if len(page) < f.Limit {
			return nil
		}
		f.After = page[len(page)-1].ID
	}
}

// usageOn returns each key's usage on one UTC day.
func (n *Notifier) usageOn(ctx context.Context, day time.Time) (map[string]store.UsageDay, error) {
	rows, err := n.st.ListUsage(ctx, store.UsageFilter{Since: day})
	if err != nil {
		return nil, fmt.Errorf("list usage since %s: %w", day.Format(time.DateOnly), err)
	}
	out := make(map[string]store.UsageDay, len(rows))
	for _, u := range rows {
		if u.Day.Equal(day) {
			out[u.KeyID] = u
		}
	}
	return out, nil
}

func activity(k store.APIKey, u store.UsageDay) KeyActivity {
	var refused int64
	for _, c := range u.Refused {
		refused += c
	}
	return KeyActivity{KeyID: k.ID, Name: k.Name, Requests: u.Accepted + refused, Refused: refused, LastUsedAt: k.LastUsedAt}
}
