package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/keyshift/keyshift/internal/store"
)

// errClaimed aborts a claim when another instance (or an earlier round)
// already took the message.
var errClaimed = errors.New("outbox message already claimed")

// Event is the JSON body of a webhook request.
type Event struct {
	// ID identifies the event across retries: receivers deduplicate on it.
	ID    string `json:"id"`
	Topic string `json:"topic"`
	// Tenant is the tenant the message is for; "" for the operator.
	Tenant    string          `json:"tenant"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// hook is a webhook as the deliverer needs it, or why there is none.
type hook struct {
	doc webhookDoc
	err error
}

// DeliverDue sends one batch of due messages and records each outcome. It
// returns how many messages it handled; Run calls it again at once when the
// batch was full. Store errors of single messages are joined, not fatal.
func (n *Notifier) DeliverDue(ctx context.Context) (int, error) {
	due, err := n.st.ListDueOutbox(ctx, n.cfg.Now(), n.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("list due outbox messages: %w", err)
	}
	hooks := map[string]hook{}
	for _, m := range due {
		name := settingName(m.Tenant)
		if _, ok := hooks[name]; !ok {
			doc, err := loadWebhook(ctx, n.st, n.sealer, m.Tenant)
			hooks[name] = hook{doc: doc, err: err}
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, n.cfg.Workers)
	)
	for _, m := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := n.deliver(ctx, m, hooks[settingName(m.Tenant)]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(due), errors.Join(errs...)
}

// deliver claims, sends and records one message.
func (n *Notifier) deliver(ctx context.Context, m store.OutboxMessage, h hook) error {
	if errors.Is(h.err, ErrNoWebhook) {
		return n.markNoWebhook(ctx, m)
	}
	claimed, err := n.claim(ctx, m)
	if errors.Is(err, errClaimed) {
		return nil
	}
	if err != nil {
		return err
	}
	var failure string
	final := false
	switch body, err := json.Marshal(Event{ID: m.ID, Topic: m.Topic, Tenant: m.Tenant, CreatedAt: m.CreatedAt.UTC(), Data: payload(m.Payload)}); {
	case err != nil:
		// A payload that is not JSON never will be: no point retrying.
		final, failure = true, "payload is not valid JSON"
	case h.err != nil:
		failure = "cannot load webhook: " + h.err.Error()
	default:
		failure = n.send(ctx, m, h.doc, body)
	}
	return n.record(ctx, claimed, failure, final)
}

// payload keeps an empty payload valid JSON.
func payload(p []byte) json.RawMessage {
	if len(p) == 0 {
		return json.RawMessage("null")
	}
	return p
}

// claim takes a due message for this round: it counts the attempt and moves
// the next attempt past the delivery timeout, so another instance does not
// send it meanwhile and a crash mid-delivery retries it later.
func (n *Notifier) claim(ctx context.Context, seen store.OutboxMessage) (store.OutboxMessage, error) {
	var claimed store.OutboxMessage
	err := n.st.Tx(ctx, func(tx store.Tx) error {
		return tx.UpdateOutbox(ctx, seen.ID, func(m store.OutboxMessage) (store.OutboxMessage, error) {
			if m.DeliveredAt != nil || m.Attempts != seen.Attempts || !m.NextAttemptAt.Equal(seen.NextAttemptAt) {
				return m, errClaimed
			}
			m.Attempts++
			m.NextAttemptAt = n.cfg.Now().Add(n.cfg.Timeout + claimLeaseOverTimeout)
			claimed = m
			return m, nil
		})
	})
	if err != nil && !errors.Is(err, errClaimed) {
		return claimed, fmt.Errorf("claim outbox message %q: %w", seen.ID, err)
	}
	return claimed, err
}

// record stores the outcome of a claimed attempt: delivered when failure is
// empty, else retried later or given up after MaxAttempts (at once when
// final).
func (n *Notifier) record(ctx context.Context, claimed store.OutboxMessage, failure string, final bool) error {
	now := n.cfg.Now()
	outcome := "delivered"
	err := n.st.Tx(ctx, func(tx store.Tx) error {
		return tx.UpdateOutbox(ctx, claimed.ID, func(m store.OutboxMessage) (store.OutboxMessage, error) {
			if m.DeliveredAt != nil {
				return m, errClaimed // delivered by another instance meanwhile
			}
			m.Attempts = claimed.Attempts
			switch {
			case failure == "":
				m.DeliveredAt, m.LastError = &now, ""
			case final || m.Attempts >= n.cfg.MaxAttempts:
				outcome = "gave_up"
				m.NextAttemptAt = Never
				m.LastError = clip(fmt.Sprintf("%s after %d attempts: %s", gaveUpPrefix, m.Attempts, failure), maxLastErrorChars)
			default:
				outcome = "failed"
				m.NextAttemptAt = now.Add(n.backoff(m.Attempts))
				m.LastError = clip(failure, maxLastErrorChars)
			}
			return m, nil
		})
	})
	if errors.Is(err, errClaimed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record delivery of outbox message %q: %w", claimed.ID, err)
	}
	n.m.deliveries.WithLabelValues(outcome).Inc()
	log := n.cfg.Logger.With("id", claimed.ID, "topic", claimed.Topic, "tenant", claimed.Tenant, "attempt", claimed.Attempts)
	switch outcome {
	case "delivered":
		log.Info("notify: webhook delivered")
	case "gave_up":
		log.Error("notify: webhook delivery given up", "reason", failure)
	default:
		log.Warn("notify: webhook delivery failed", "reason", failure)
	}
	return nil
}

// markNoWebhook marks a message for a tenant without webhook as delivered:
// there is no one to tell, and keeping it would send stale news whenever a
// webhook is configured later.
func (n *Notifier) markNoWebhook(ctx context.Context, seen store.OutboxMessage) error {
	err := n.st.Tx(ctx, func(tx store.Tx) error {
		return tx.UpdateOutbox(ctx, seen.ID, func(m store.OutboxMessage) (store.OutboxMessage, error) {
			if m.DeliveredAt != nil {
				return m, errClaimed
			}
			now := n.cfg.Now()
			m.DeliveredAt, m.LastError = &now, noWebhookMessage
			return m, nil
		})
	})
	if errors.Is(err, errClaimed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark outbox message %q: %w", seen.ID, err)
	}
	n.m.deliveries.WithLabelValues("no_webhook").Inc()
	return nil
}

// send POSTs body to the webhook and returns "" on a 2xx answer, else a
// description of the failure that holds neither the URL (it may carry a
// token) nor more than maxErrorBodyChars of the response.
func (n *Notifier) send(ctx context.Context, m store.OutboxMessage, doc webhookDoc, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, doc.URL, bytes.NewReader(body))
	if err != nil {
		return "cannot build request for the webhook URL"
	}
	now := n.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keyshift-webhook/1")
	req.Header.Set(HeaderEventID, m.ID)
	req.Header.Set(HeaderSignature, Sign(now, body, doc.secrets(now)...))
	client := n.tenantClient
	if m.Tenant == "" || m.Tenant == store.PlatformTenant {
		client = n.operatorClient
	}
	start := time.Now()
	resp, err := client.Do(req)
	n.m.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		return describeErr(ctx, err, n.cfg.Timeout)
	}
	defer func() { _ = resp.Body.Close() }()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxErrorBodyChars))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return ""
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirects are not followed)"
	}
	if text := clip(printable(head), maxErrorBodyChars); text != "" {
		msg += ": " + text
	}
	return msg
}

// describeErr explains a transport error without the request URL.
func describeErr(ctx context.Context, err error, timeout time.Duration) string {
	// The delivery's deadline and the transport's response-header timeout
	// are the same length; whichever fires first, the receiver did not
	// answer in time.
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return clip(err.Error(), maxErrorBodyChars)
}

// printable turns a response body into one line of valid text.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// GaveUp reports whether delivery of m was given up.
func GaveUp(m store.OutboxMessage) bool {
	return m.DeliveredAt == nil && !m.NextAttemptAt.Before(Never)
}

// Redeliver makes a message given up (or failing) due again at now with a
// fresh attempt budget, e.g. after the operator fixed the receiving end.
func Redeliver(ctx context.Context, tx store.KeyTx, id string, now time.Time) error {
	err := tx.UpdateOutbox(ctx, id, func(m store.OutboxMessage) (store.OutboxMessage, error) {
		if m.DeliveredAt != nil {
			return m, fmt.Errorf("outbox message %q was delivered at %s", id, m.DeliveredAt.UTC().Format(time.RFC3339))
		}
		m.Attempts, m.NextAttemptAt = 0, now
		return m, nil
	})
	if err != nil {
		return fmt.Errorf("redeliver: %w", err)
	}
	return nil
}
