package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/safehttp"
	"github.com/keyshift/keyshift/internal/store"
)

func TestDeliver_SignedRequest_VerifiesWithDocumentedAlgorithm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	secret := e.setWebhook(t, "acme", rcv.URL+"/hooks/keyshift")
	rcv.secret = func() string { return secret }
	id := e.enqueue(t, "acme", TopicKeyDisabled, map[string]string{"key_id": "k1"})

	n := e.notifier(t, Config{})
	if got := deliverDue(t, n); got != 1 {
		t.Fatalf("DeliverDue handled %d messages, want 1", got)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if !r.valid {
		t.Errorf("signature %q does not verify with the documented algorithm", r.header.Get(HeaderSignature))
	}
	if err := Verify(secret, r.header.Get(HeaderSignature), r.body, e.clock.Now(), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if got := r.header.Get(HeaderEventID); got != id {
		t.Errorf("%s = %q, want %q", HeaderEventID, got, id)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	ev := r.event
	if ev.ID != id || ev.Topic != TopicKeyDisabled || ev.Tenant != "acme" || !ev.CreatedAt.Equal(testStart) ||
		string(ev.Data) != `{"key_id":"k1"}` {
		t.Errorf("event = %+v (data %s)", ev, ev.Data)
	}
	m := e.message(t, id)
	if m.DeliveredAt == nil || !m.DeliveredAt.Equal(testStart) || m.Attempts != 1 || m.LastError != "" {
		t.Errorf("stored message after delivery = %+v", m)
	}
	if strings.Contains(string(r.body), secret) || strings.Contains(r.header.Get(HeaderSignature), secret) {
		t.Error("the secret itself was sent")
	}
}

func TestDeliver_ServerErrors_RetriedWithExponentialBackoffThenDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now, 500, 503, 200)
	rcv.reply = strings.Repeat("x", 300) + "\n\x00tail"
	e.setWebhook(t, "acme", rcv.URL)
	id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	n := e.notifier(t, Config{})

	deliverDue(t, n)
	m := e.message(t, id)
	if m.Attempts != 1 || m.DeliveredAt != nil || !m.NextAttemptAt.Equal(testStart.Add(30*time.Second)) {
		t.Fatalf("after first failure: attempts %d, delivered %v, next %s; want 1, nil, +30s", m.Attempts, m.DeliveredAt, m.NextAttemptAt)
	}
	if want := "HTTP 500: " + strings.Repeat("x", 200) + "…"; m.LastError != want {
		t.Errorf("LastError = %q, want the status and 200 characters of the body", m.LastError)
	}

	e.clock.Add(29 * time.Second)
	if got := deliverDue(t, n); got != 0 {
		t.Fatalf("a message was due before its backoff elapsed (%d handled)", got)
	}
	e.clock.Add(time.Second)
	deliverDue(t, n)
	m = e.message(t, id)
	if m.Attempts != 2 || !m.NextAttemptAt.Equal(e.clock.Now().Add(60*time.Second)) || !strings.HasPrefix(m.LastError, "HTTP 503") {
		t.Fatalf("after second failure: %+v; want attempts 2, next +60s, HTTP 503", m)
	}

	e.clock.Add(time.Minute)
	deliverDue(t, n)
	m = e.message(t, id)
	if m.DeliveredAt == nil || m.Attempts != 3 || m.LastError != "" {
		t.Fatalf("after success: %+v; want delivered on attempt 3 with the error cleared", m)
	}
	if got := len(rcv.requests()); got != 3 {
		t.Errorf("receiver got %d requests, want 3", got)
	}
	for i, r := range rcv.requests() {
		if r.event.ID != id || r.header.Get(HeaderEventID) != id {
			t.Errorf("request %d has event id %q: retries must keep the id for deduplication", i, r.event.ID)
		}
	}
}

func TestBackoff_DoublesFromBaseAndCapsAtMax(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ceilings []time.Duration
	n := e.notifier(t, Config{Jitter: func(d time.Duration) time.Duration { ceilings = append(ceilings, d); return 0 }})
	for attempts := 1; attempts <= 14; attempts++ {
		if got := n.backoff(attempts); got != time.Second {
			t.Errorf("backoff(%d) with zero jitter = %s, want the 1 s floor", attempts, got)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, 64 * time.Minute, 128 * time.Minute, 256 * time.Minute,
		6 * time.Hour, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour}
	for i := range want {
		if ceilings[i] != want[i] {
			t.Errorf("ceiling after %d failures = %s, want %s", i+1, ceilings[i], want[i])
		}
	}
	if got := n.backoff(1000); got != time.Second {
		t.Errorf("backoff(1000) = %s: a huge attempt count must not overflow", got)
	}
}

func TestDeliver_AfterMaxAttempts_GivenUpAndRedeliverable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now, 500, 500, 500)
	e.setWebhook(t, "acme", rcv.URL)
	id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	n := e.notifier(t, Config{MaxAttempts: 3})

	for range 3 {
		deliverDue(t, n)
		e.clock.Add(time.Hour)
	}
	m := e.message(t, id)
	if !GaveUp(m) || m.Attempts != 3 || !m.NextAttemptAt.Equal(Never) {
		t.Fatalf("after 3 failures: %+v; want given up (next attempt %s)", m, Never)
	}
	if want := "gave up after 3 attempts: HTTP 500"; m.LastError != want {
		t.Errorf("LastError = %q, want %q", m.LastError, want)
	}
	e.clock.Add(365 * 24 * time.Hour)
	if got := deliverDue(t, n); got != 0 || len(rcv.requests()) != 3 {
		t.Fatalf("a given-up message was retried (%d handled, %d requests)", got, len(rcv.requests()))
	}

	e.tx(t, func(tx store.Tx) error { return Redeliver(context.Background(), tx, id, e.clock.Now()) })
	deliverDue(t, n)
	if m := e.message(t, id); m.DeliveredAt == nil || GaveUp(m) {
		t.Fatalf("after Redeliver: %+v; want delivered", m)
	}
	err := e.st.Tx(context.Background(), func(tx store.Tx) error { return Redeliver(context.Background(), tx, id, e.clock.Now()) })
	if err == nil {
		t.Error("Redeliver of a delivered message succeeded")
	}
}

func TestDeliver_NoWebhook_MarkedDeliveredUnsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "globex", rcv.URL)
	id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	op := e.enqueue(t, "", TopicKeyDisabled, nil)

	deliverDue(t, e.notifier(t, Config{}))
	for _, id := range []string{id, op} {
		m := e.message(t, id)
		if m.DeliveredAt == nil || m.LastError != "no webhook configured" || m.Attempts != 0 {
			t.Errorf("message %s = %+v; want delivered with LastError %q and no attempt", id, m, "no webhook configured")
		}
	}
	if got := len(rcv.requests()); got != 0 {
		t.Errorf("another tenant's webhook got %d requests", got)
	}
}

func TestDeliver_DeletedWebhook_MarkedDeliveredUnsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	e.tx(t, func(tx store.Tx) error { return DeleteWebhook(context.Background(), tx, "acme") })
	id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	deliverDue(t, e.notifier(t, Config{}))
	if m := e.message(t, id); m.LastError != "no webhook configured" || len(rcv.requests()) != 0 {
		t.Errorf("after DeleteWebhook: %+v, %d requests", m, len(rcv.requests()))
	}
}

func TestDeliver_OperatorMessage_GoesToPlatformWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	secret := e.setWebhook(t, "", rcv.URL)
	rcv.secret = func() string { return secret }
	e.enqueue(t, "", TopicKeyDisabled, nil)
	deliverDue(t, e.notifier(t, Config{}))
	reqs := rcv.requests()
	if len(reqs) != 1 || !reqs[0].valid || reqs[0].event.Tenant != "" {
		t.Fatalf("operator webhook got %+v", reqs)
	}
}

func TestDeliver_Restart_DoesNotResendDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	e.enqueue(t, "acme", TopicKeyDisabled, nil)
	e.enqueue(t, "acme", TopicKeyDisabled, nil)
	deliverDue(t, e.notifier(t, Config{}))

	e.clock.Add(time.Hour)
	if got := deliverDue(t, e.notifier(t, Config{})); got != 0 {
		t.Errorf("a new notifier handled %d messages, want 0", got)
	}
	if got := len(rcv.requests()); got != 2 {
		t.Errorf("receiver got %d requests, want 2", got)
	}
}

func TestDeliver_TwoInstances_SendEachMessageOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	for range 20 {
		e.enqueue(t, "acme", TopicKeyDisabled, nil)
	}
	a, b := e.notifier(t, Config{}), e.notifier(t, Config{})
	var wg sync.WaitGroup
	for _, n := range []*Notifier{a, b} {
		wg.Go(func() { deliverDue(t, n) })
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range rcv.requests() {
		seen[r.event.ID]++
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct events delivered, want 20", len(seen))
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
}

func TestDeliver_FailureModes(t *testing.T) {
	t.Parallel()
	redirect := httptest.NewServer(http.RedirectHandler("https://example.com/elsewhere", http.StatusFound))
	t.Cleanup(redirect.Close)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name, url, wantPrefix string
	}{
		{"redirect is not followed", redirect.URL, "HTTP 302 (redirects are not followed)"},
		{"slow receiver times out", slow.URL, "no answer within 200ms"},
		{"refused connection hides the URL", closedURL + "/hooks/tok_SECRETPATH?token=SECRETQUERY", "dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.setWebhook(t, "acme", tt.url)
			id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
			deliverDue(t, e.notifier(t, Config{Timeout: 200 * time.Millisecond}))
			m := e.message(t, id)
			if m.DeliveredAt != nil || m.Attempts != 1 || !strings.HasPrefix(m.LastError, tt.wantPrefix) {
				t.Errorf("message = %+v; want attempt 1 failed with %q", m, tt.wantPrefix)
			}
			if strings.Contains(m.LastError, "SECRET") {
				t.Errorf("LastError %q shows the webhook URL", m.LastError)
			}
		})
	}
}

func TestDeliver_TenantWebhookOnPrivateAddress_Refused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL) // 127.0.0.1: loopback
	e.setWebhook(t, "", rcv.URL)
	tenantMsg := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	opMsg := e.enqueue(t, "", TopicKeyDisabled, nil)

	n, err := New(e.st, e.sealer, Config{Now: e.clock.Now}) // default client, private networks not allowed
	if err != nil {
		t.Fatal(err)
	}
	deliverDue(t, n)
	if m := e.message(t, tenantMsg); m.DeliveredAt != nil || !strings.Contains(m.LastError, safehttp.ErrNotPublic.Error()) {
		t.Errorf("tenant message to loopback = %+v; want refused as non-public", m)
	}
	if m := e.message(t, opMsg); m.DeliveredAt == nil {
		t.Errorf("operator message to loopback = %+v; want delivered (the operator's network is trusted)", m)
	}
	if got := len(rcv.requests()); got != 1 {
		t.Errorf("receiver got %d requests, want only the operator's", got)
	}
}

func TestDeliver_InvalidPayload_GivenUpAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	e.tx(t, func(tx store.Tx) error {
		return tx.EnqueueOutbox(context.Background(), store.OutboxMessage{ID: "bad", Tenant: "acme", Topic: "x", Payload: []byte("{not json")})
	})
	deliverDue(t, e.notifier(t, Config{}))
	if m := e.message(t, "bad"); !GaveUp(m) || m.Attempts != 1 || !strings.Contains(m.LastError, "not valid JSON") {
		t.Errorf("message with invalid payload = %+v; want given up after one attempt", m)
	}
	if len(rcv.requests()) != 0 {
		t.Error("an invalid payload was sent")
	}
}

func TestCleanup_RemovesDeliveredAfterRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now, 500)
	e.setWebhook(t, "acme", rcv.URL)
	failing := e.enqueue(t, "acme", TopicKeyDisabled, nil) // gets the 500
	n := e.notifier(t, Config{Workers: 1})
	deliverDue(t, n)
	delivered := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	deliverDue(t, n)

	e.clock.Add(DefaultRetain)
	if removed, err := n.Cleanup(context.Background()); err != nil || removed != 0 {
		t.Fatalf("Cleanup at exactly the retention = %d, %v; want nothing removed", removed, err)
	}
	e.clock.Add(time.Second)
	if removed, err := n.Cleanup(context.Background()); err != nil || removed != 1 {
		t.Fatalf("Cleanup after the retention = %d, %v; want the delivered message removed", removed, err)
	}
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.UpdateOutbox(context.Background(), delivered, func(m store.OutboxMessage) (store.OutboxMessage, error) { return m, nil })
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delivered message still stored: %v", err)
	}
	if m := e.message(t, failing); m.DeliveredAt != nil {
		t.Errorf("undelivered message changed: %+v", m)
	}
}

func TestRun_DeliversUntilCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, time.Now)
	secret := e.setWebhook(t, "acme", rcv.URL)
	rcv.secret = func() string { return secret }
	e.enqueue(t, "acme", TopicKeyDisabled, nil)
	n := e.notifier(t, Config{Now: time.Now, PollEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(rcv.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if reqs := rcv.requests(); len(reqs) != 1 || !reqs[0].valid {
		t.Fatalf("Run delivered %d requests (%+v), want 1 valid", len(reqs), reqs)
	}
}

func TestNew_RequiresStoreAndSealer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := New(nil, e.sealer, Config{}); err == nil {
		t.Error("New without store succeeded")
	}
	if _, err := New(e.st, nil, Config{}); err == nil {
		t.Error("New without sealer succeeded")
	}
}

// TestDescribeErr_HeaderTimeoutBeforeDeadline_NoAnswer: the transport's
// response-header timeout may fire before the delivery's own deadline is
// seen (both have the same length); it is the same event, a receiver that
// did not answer in time.
func TestDescribeErr_HeaderTimeoutBeforeDeadline_NoAnswer(t *testing.T) {
	headerTimeout := &url.Error{Op: "Post", URL: "https://hooks.example/tok_SECRET", Err: timeoutErr{}}
	if got := describeErr(context.Background(), headerTimeout, 200*time.Millisecond); got != "no answer within 200ms" {
		t.Fatalf("describeErr = %q, want %q", got, "no answer within 200ms")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "net/http: timeout awaiting response headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
