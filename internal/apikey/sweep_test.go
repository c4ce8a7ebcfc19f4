package apikey

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func TestSweeper_DisablesDueKeysWithAuditAndOutbox(t *testing.T) {
	day := 24 * time.Hour
	unusedTL := Timeline{DeprecatedAt: ptr(tDeprecated), DisableUnusedAfterDays: 90}
	tests := []struct {
		name   string
		tl     Timeline
		mod    func(*store.APIKey)
		now    time.Time
		reason string // "" = left active
	}{
		{"disable_at not reached", Timeline{}, func(k *store.APIKey) { k.DisableAt = ptr(tKeysOff) },
			tKeysOff.Add(-time.Second), ""},
		{"disable_at reached", Timeline{}, func(k *store.APIKey) { k.DisableAt = ptr(tKeysOff) },
			tKeysOff, DisableScheduled},
		{"disable_at on a platform key", Timeline{}, func(k *store.APIKey) {
			k.Owner, k.Purpose, k.DisableAt = store.OwnerPlatform, "mobile", ptr(tKeysOff)
		}, tKeysOff, DisableScheduled},
		{"disable_at on a disabled key", Timeline{}, func(k *store.APIKey) {
			k.Status, k.DisableAt = store.StatusDisabled, ptr(tKeysOff)
		}, tKeysOff, ""},
		{"idle one second short of the period after deprecation", unusedTL, nil,
			tDeprecated.Add(90*day - time.Second), ""},
		{"idle for the period after deprecation", unusedTL, nil, tDeprecated.Add(90 * day), DisableUnused},
		{"used after deprecation: idle counts from the last use", unusedTL,
			func(k *store.APIKey) { k.LastUsedAt = ptr(tDeprecated.Add(10 * day)) },
			tDeprecated.Add(99 * day), ""},
		{"used after deprecation and idle since", unusedTL,
			func(k *store.APIKey) { k.LastUsedAt = ptr(tDeprecated.Add(10 * day)) },
			tDeprecated.Add(100 * day), DisableUnused},
		{"idle platform key", unusedTL, func(k *store.APIKey) { k.Owner, k.Purpose = store.OwnerPlatform, "sftp-loader" },
			tDeprecated.Add(365 * day), ""},
		{"idle but the timeline does not disable unused keys", Timeline{DeprecatedAt: ptr(tDeprecated)}, nil,
			tDeprecated.Add(365 * day), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSvcEnv(t, "", nil)
			e.tenant("acme", acme.CreatedAt)
			e.setTimeline(tt.tl)
			var mods []func(*store.APIKey)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			id, _ := e.key("acme", mods...)
			e.clock.Set(tt.now)
			w, err := NewSweeper(e.st, SweepConfig{Now: e.clock.Now, NotifyDisabled: testNotify})
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.Sweep(e.ctx)
			if err != nil {
				t.Fatalf("sweep: %v", err)
			}
			k, err := e.st.GetAPIKey(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason == "" {
				if len(got) != 0 || (k.Status == store.StatusDisabled) != (tt.mod != nil && isDisabled(tt.mod)) {
					t.Fatalf("disabled %+v, key status %s; want it left alone", got, k.Status)
				}
				return
			}
			if len(got) != 1 || got[0].KeyID != id || got[0].Reason != tt.reason || k.Status != store.StatusDisabled {
				t.Fatalf("disabled %+v, key status %s; want %s disabled as %s", got, k.Status, id, tt.reason)
			}
			assertDisableRecorded(t, e, id, tt.reason)

			// A second pass finds nothing more to do.
			if again, err := w.Sweep(e.ctx); err != nil || len(again) != 0 {
				t.Fatalf("second sweep: %+v, %v", again, err)
			}
		})
	}
}

// isDisabled reports whether a fixture modification disables the key.
func isDisabled(mod func(*store.APIKey)) bool {
	var k store.APIKey
	mod(&k)
	return k.Status == store.StatusDisabled
}

// assertDisableRecorded checks the audit event and the outbox message
// written with an automatic disable, exactly once.
func assertDisableRecorded(t *testing.T, e *svcEnv, id, reason string) {
	t.Helper()
	events, err := e.st.ListAudit(e.ctx, store.AuditFilter{ObjectID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d audit events, want 1", len(events))
	}
	ev := events[0]
	var details map[string]string
	_ = json.Unmarshal(ev.Details, &details)
	if ev.Actor != SweepActor || ev.Action != ActionAutoDisable || ev.Tenant != "acme" ||
		ev.ObjectType != "api_key" || details["reason"] != reason {
		t.Errorf("audit event %+v details %s", ev, ev.Details)
	}
	msgs, err := e.st.ListDueOutbox(e.ctx, e.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d outbox messages, want 1", len(msgs))
	}
	var p map[string]string
	if err := json.Unmarshal(msgs[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if msgs[0].Topic != "key.disabled" || msgs[0].Tenant != "acme" ||
		p["key_id"] != id || p["name"] != "erp sync" || p["reason"] != reason {
		t.Errorf("outbox message %+v payload %s", msgs[0], msgs[0].Payload)
	}
}

// TestSweeper_FlushesUsageFirst shows why BeforeSweep takes Service.Flush:
// a key used a moment ago, with its use still in memory, is not idle.
func TestSweeper_FlushesUsageFirst(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	e.setTimeline(Timeline{DeprecatedAt: ptr(tDeprecated), DisableUnusedAfterDays: 90})
	id, secret := e.key("acme")
	due := tDeprecated.Add(90 * 24 * time.Hour)
	e.clock.Set(due.Add(-time.Minute))
	e.check(secret) // counted in memory only

	e.clock.Set(due)
	w, err := NewSweeper(e.st, SweepConfig{Now: e.clock.Now, BeforeSweep: e.svc.Flush})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.Sweep(e.ctx); err != nil || len(got) != 0 {
		t.Fatalf("sweep disabled %+v (err %v): the use in memory was not flushed first", got, err)
	}

	// And a failing flush stops the sweep rather than judge on stale data.
	e.st.failTx.Store(true)
	e.check(secret)
	if _, err := w.Sweep(e.ctx); err == nil {
		t.Fatal("sweep went ahead although the flush failed")
	}
	e.st.failTx.Store(false)
	if k, _ := e.st.GetAPIKey(e.ctx, id); k.Status != store.StatusActive {
		t.Fatalf("key status %s", k.Status)
	}
}

func TestSweeper_ManyKeysAcrossPages(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	e.tenant("acme", acme.CreatedAt)
	const n = 3*4 + 1 // pages of 4
	e.tx(func(tx store.Tx) error {
		for i := range n {
			h := Hash(Generate())
			k := store.APIKey{ID: keyID(i), Tenant: "acme", Hash: h[:], Name: "k", Owner: store.OwnerTenant,
				Status: store.StatusActive, DisableAt: ptr(tKeysOff)}
			if err := tx.CreateAPIKey(e.ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	e.clock.Set(tKeysOff)
	w, err := NewSweeper(e.st, SweepConfig{Now: e.clock.Now, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Sweep(e.ctx)
	if err != nil || len(got) != n {
		t.Fatalf("disabled %d keys (err %v), want %d", len(got), err, n)
	}
}

func keyID(i int) string { return fmt.Sprintf("key_%05d", i) }

func TestSweeper_RunStopsWithContext(t *testing.T) {
	e := newSvcEnv(t, "", nil)
	w, err := NewSweeper(e.st, SweepConfig{Every: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// testNotify stands in for notify.KeyDisabled (which imports this package):
// one outbox message in the disabling transaction.
func testNotify(ctx context.Context, tx store.KeyTx, k store.APIKey, reason, by string, now time.Time) error {
	payload, err := json.Marshal(map[string]string{"key_id": k.ID, "name": k.Name, "reason": reason, "by": by})
	if err != nil {
		return err
	}
	return tx.EnqueueOutbox(ctx, store.OutboxMessage{ID: "evt-" + k.ID, Tenant: k.Tenant, Topic: "key.disabled",
		Payload: payload, CreatedAt: now, NextAttemptAt: now})
}
