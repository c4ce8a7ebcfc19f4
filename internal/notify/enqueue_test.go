package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

func TestEnqueue_RolledBackWithEvent_NothingSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	ctx := context.Background()
	errEvent := errors.New("the event failed")
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if _, err := Enqueue(ctx, tx, "acme", TopicKeyDisabled, map[string]string{"key_id": "k1"}, e.clock.Now()); err != nil {
			return err
		}
		return errEvent // e.g. the key update after it failed
	})
	if !errors.Is(err, errEvent) {
		t.Fatalf("transaction = %v", err)
	}
	if got := deliverDue(t, e.notifier(t, Config{})); got != 0 || len(rcv.requests()) != 0 {
		t.Errorf("a rolled-back notification was delivered (%d handled)", got)
	}
}

func TestEnqueue_CommittedWithEvent_Sent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	id := e.enqueue(t, "acme", "custom.topic", struct {
		N int `json:"n"`
	}{7})
	if !strings.HasPrefix(id, EventIDPrefix) {
		t.Errorf("event id %q lacks %s", id, EventIDPrefix)
	}
	deliverDue(t, e.notifier(t, Config{}))
	if reqs := rcv.requests(); len(reqs) != 1 || string(reqs[0].event.Data) != `{"n":7}` {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestEnqueueTest_Delivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	secret := e.setWebhook(t, "acme", rcv.URL)
	rcv.secret = func() string { return secret }
	e.tx(t, func(tx store.Tx) error {
		_, err := EnqueueTest(context.Background(), tx, "acme", e.clock.Now())
		return err
	})
	deliverDue(t, e.notifier(t, Config{}))
	if reqs := rcv.requests(); len(reqs) != 1 || !reqs[0].valid || reqs[0].event.Topic != TopicWebhookTest {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestEnqueue_Refused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		topic string
		data  any
	}{
		"empty topic":       {"", nil},
		"data not encoding": {TopicKeyDisabled, make(chan int)},
	} {
		err := e.st.Tx(ctx, func(tx store.Tx) error {
			_, err := Enqueue(ctx, tx, "acme", tc.topic, tc.data, e.clock.Now())
			return err
		})
		if err == nil {
			t.Errorf("%s: Enqueue succeeded", name)
		}
	}
}

func TestKeyDisabled_Recipients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		key         store.APIKey
		wantTenants []string
	}{
		{"tenant key: tenant and operator", store.APIKey{ID: "k1", Tenant: "acme", Name: "erp", Owner: store.OwnerTenant}, []string{"acme", ""}},
		{"platform key: operator only", store.APIKey{ID: "k2", Tenant: "acme", Name: "sftp", Owner: store.OwnerPlatform}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			acme, op := newReceiver(t, e.clock.Now), newReceiver(t, e.clock.Now)
			e.setWebhook(t, "acme", acme.URL)
			e.setWebhook(t, "", op.URL)
			e.tx(t, func(tx store.Tx) error {
				return KeyDisabled(context.Background(), tx, tt.key, "unused for 90 days", "scheduler", e.clock.Now())
			})
			deliverDue(t, e.notifier(t, Config{}))
			var got []string
			for _, r := range append(acme.requests(), op.requests()...) {
				var d KeyDisabledData
				mustJSON(t, r.event.Data, &d)
				if r.event.Topic != TopicKeyDisabled || d.KeyID != tt.key.ID || d.Reason != "unused for 90 days" || !d.DisabledAt.Equal(testStart) {
					t.Errorf("event = %+v, data %+v", r.event, d)
				}
				got = append(got, r.event.Tenant)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantTenants, ",") {
				t.Errorf("recipients = %q, want %q", got, tt.wantTenants)
			}
		})
	}
}
