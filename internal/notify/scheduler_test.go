package notify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// storeTimeline writes the timeline setting as the admin API does.
func (e *env) storeTimeline(t *testing.T, tl apikey.Timeline) {
	t.Helper()
	raw, err := json.Marshal(tl.Normalized())
	if err != nil {
		t.Fatal(err)
	}
	e.tx(t, func(tx store.Tx) error { return tx.PutSetting(context.Background(), apikey.SettingTimeline, raw) })
}

func (e *env) createKey(t *testing.T, id, tenant, owner, status string) {
	t.Helper()
	h := sha256.Sum256([]byte(id))
	e.tx(t, func(tx store.Tx) error {
		return tx.CreateAPIKey(context.Background(), store.APIKey{
			ID: id, Tenant: tenant, Hash: h[:], Name: "key " + id, Owner: owner, Status: status,
		})
	})
}

// primeScheduler records a scheduler round at `at`, so a test's first round
// does not catch up the day before (see MaxCatchUp).
func (e *env) primeScheduler(t *testing.T, at time.Time) {
	t.Helper()
	raw, err := json.Marshal(schedulerState{LastRun: at})
	if err != nil {
		t.Fatal(err)
	}
	e.tx(t, func(tx store.Tx) error { return tx.PutSetting(context.Background(), SchedulerSetting, raw) })
}

func scheduleDue(t *testing.T, n *Notifier) int {
	t.Helper()
	added, err := n.ScheduleDue(context.Background())
	if err != nil {
		t.Fatalf("ScheduleDue: %v", err)
	}
	return added
}

func TestScheduleDue_Reminder_PlannedOnceAcrossRunsAndInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.storeTimeline(t, planTimeline())
	e.createKey(t, "k1", "acme", store.OwnerTenant, store.StatusActive)
	e.createKey(t, "k2", "globex", store.OwnerTenant, store.StatusDisabled)
	e.createKey(t, "k3", "globex", store.OwnerPlatform, store.StatusActive)
	rcv := newReceiver(t, e.clock.Now)
	secret := e.setWebhook(t, "acme", rcv.URL)
	rcv.secret = func() string { return secret }

	e.clock.Set(planOff.Add(-30*day - 2*time.Minute))
	e.primeScheduler(t, e.clock.Now().Add(-time.Minute))
	a := e.notifier(t, Config{})
	if got := scheduleDue(t, a); got != 0 {
		t.Fatalf("before the mark: %d planned", got)
	}
	e.clock.Add(2 * time.Minute)
	if got := scheduleDue(t, a); got != 1 {
		t.Fatalf("at the mark: %d planned, want the acme reminder", got)
	}
	if got := scheduleDue(t, a); got != 0 {
		t.Errorf("second run: %d planned", got)
	}
	b := e.notifier(t, Config{})
	e.primeScheduler(t, e.clock.Now().Add(-time.Hour)) // a stale state: the window is planned again
	if got := scheduleDue(t, b); got != 0 {
		t.Errorf("another instance re-planning the window: %d planned", got)
	}

	deliverDue(t, a)
	reqs := rcv.requests()
	if len(reqs) != 1 || !reqs[0].valid || reqs[0].event.ID != "reminder-30d-acme-2027-01-01T12:00:00Z" {
		t.Fatalf("receiver got %+v", reqs)
	}
	var r ReminderData
	mustJSON(t, reqs[0].event.Data, &r)
	if r.ActiveKeys != 1 || r.DaysBefore != 30 {
		t.Errorf("reminder data = %+v", r)
	}
}

func TestScheduleDue_Digest_CountsYesterdaysUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.storeTimeline(t, planTimeline())
	e.createKey(t, "k1", "acme", store.OwnerTenant, store.StatusActive)
	e.createKey(t, "k2", "acme", store.OwnerTenant, store.StatusActive)
	yesterday := date("2026-12-09T00:00:00Z")
	e.tx(t, func(tx store.Tx) error {
		return tx.AddUsage(context.Background(), []store.UsageDelta{
			{KeyID: "k1", Tenant: "acme", Day: yesterday, Accepted: 40, Refused: map[string]int64{"api_key_brownout": 2}, LastUsedAt: yesterday.Add(5 * time.Hour)},
			{KeyID: "k1", Tenant: "acme", Day: yesterday.Add(-day), Accepted: 1000},
			{KeyID: "k1", Tenant: "acme", Day: yesterday.Add(day), Accepted: 7},
		})
	})
	e.clock.Set(yesterday.Add(day - 30*time.Second))
	e.primeScheduler(t, e.clock.Now().Add(-time.Minute))
	n := e.notifier(t, Config{})
	scheduleDue(t, n)
	e.clock.Add(time.Minute)
	if got := scheduleDue(t, n); got != 2 {
		t.Fatalf("at midnight: %d planned, want the acme and operator digests", got)
	}
	acme, op := newReceiver(t, e.clock.Now), newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", acme.URL)
	e.setWebhook(t, "", op.URL)
	deliverDue(t, n)

	if len(acme.requests()) != 1 || len(op.requests()) != 1 {
		t.Fatalf("acme got %d, operator %d requests", len(acme.requests()), len(op.requests()))
	}
	var d DigestData
	mustJSON(t, acme.requests()[0].event.Data, &d)
	if d.Day != "2026-12-09" || len(d.Keys) != 2 || d.Keys[0].KeyID != "k1" || d.Keys[0].Requests != 42 ||
		d.Keys[0].Refused != 2 || d.Keys[0].LastUsedAt == nil || d.Keys[1].Requests != 0 {
		t.Errorf("digest = %+v", d)
	}
	var o OperatorDigestData
	mustJSON(t, op.requests()[0].event.Data, &o)
	if len(o.Tenants) != 1 || o.Tenants[0].Tenant != "acme" || o.Tenants[0].Requests != 42 || o.Tenants[0].ActiveKeys != 2 {
		t.Errorf("operator digest = %+v", o)
	}
}

func TestScheduleDue_FirstRun_CatchesUpOneDay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.storeTimeline(t, planTimeline())
	e.createKey(t, "k1", "acme", store.OwnerTenant, store.StatusActive)
	e.clock.Set(planOff.Add(-7*day + 23*time.Hour))
	n := e.notifier(t, Config{})
	if got := scheduleDue(t, n); got != 3 {
		t.Errorf("first run: %d planned, want the 7-day reminder of 23 h ago and the two digests", got)
	}
}

func TestScheduleDue_NoTimeline_NothingPlanned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createKey(t, "k1", "acme", store.OwnerTenant, store.StatusActive)
	n := e.notifier(t, Config{})
	for range 3 {
		if got := scheduleDue(t, n); got != 0 {
			t.Errorf("without timeline: %d planned", got)
		}
		e.clock.Add(day)
	}
}

func TestRunScheduler_PlansUntilCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.storeTimeline(t, planTimeline())
	e.createKey(t, "k1", "acme", store.OwnerTenant, store.StatusActive)
	e.clock.Set(globalWindow.Start)
	e.primeScheduler(t, e.clock.Now().Add(-time.Minute))
	n := e.notifier(t, Config{ScheduleEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.RunScheduler(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if due, _ := e.st.ListDueOutbox(context.Background(), e.clock.Now(), 10); len(due) == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	due, err := e.st.ListDueOutbox(context.Background(), e.clock.Now(), 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("outbox = %+v, %v; want the acme and operator brownout notices", due, err)
	}
}
