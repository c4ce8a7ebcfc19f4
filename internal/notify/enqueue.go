package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// EventIDPrefix starts the IDs of events enqueued by Enqueue.
const EventIDPrefix = "evt_"

// Enqueue writes a notification for tenant ("" for the operator) into the
// outbox inside tx, the transaction of the event it reports: if that
// transaction rolls back, nothing is sent. data is marshalled to JSON as
// the event's "data". It returns the event ID.
func Enqueue(ctx context.Context, tx store.KeyTx, tenant, topic string, data any, now time.Time) (string, error) {
	if topic == "" {
		return "", errors.New("enqueue notification: empty topic")
	}
	body, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("enqueue %s notification: encode data: %w", topic, err)
	}
	id := credential.ID(EventIDPrefix, 22)
	err = tx.EnqueueOutbox(ctx, store.OutboxMessage{
		ID: id, Tenant: tenant, Topic: topic, Payload: body, CreatedAt: now.UTC(), NextAttemptAt: now.UTC(),
	})
	if err != nil {
		return "", fmt.Errorf("enqueue %s notification: %w", topic, err)
	}
	return id, nil
}

// KeyDisabledData is the data of a TopicKeyDisabled event.
type KeyDisabledData struct {
	KeyID  string `json:"key_id"`
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
	Owner  string `json:"owner"`
	// Reason says why, e.g. "unused for 90 days" or "disabled by an admin".
	Reason     string    `json:"reason"`
	DisabledBy string    `json:"disabled_by,omitempty"`
	DisabledAt time.Time `json:"disabled_at"`
}

// KeyDisabled enqueues TopicKeyDisabled in tx, the transaction that disabled
// k: to k's tenant (unless the key is platform-owned, which tenants must not
// learn about) and to the operator.
func KeyDisabled(ctx context.Context, tx store.KeyTx, k store.APIKey, reason, by string, now time.Time) error {
	data := KeyDisabledData{
		KeyID: k.ID, Name: k.Name, Tenant: k.Tenant, Owner: k.Owner,
		Reason: reason, DisabledBy: by, DisabledAt: now.UTC(),
	}
	if k.Owner != store.OwnerPlatform && k.Tenant != store.PlatformTenant {
		if _, err := Enqueue(ctx, tx, k.Tenant, TopicKeyDisabled, data, now); err != nil {
			return err
		}
	}
	_, err := Enqueue(ctx, tx, "", TopicKeyDisabled, data, now)
	return err
}

// TopicWebhookTest is the topic of EnqueueTest's event.
const TopicWebhookTest = "webhook.test"

// EnqueueTest enqueues a test event for tenant ("" for the operator), for an
// administrator checking that the receiving end verifies and answers 2xx.
func EnqueueTest(ctx context.Context, tx store.KeyTx, tenant string, now time.Time) (string, error) {
	return Enqueue(ctx, tx, tenant, TopicWebhookTest, map[string]string{"message": "keyshift webhook test"}, now)
}
