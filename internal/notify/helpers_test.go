package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlite"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var testStart = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

type env struct {
	st     store.Store
	sealer *signing.Sealer
	clock  *testClock
}

// newEnv opens a real SQLite store with tenants acme and globex.
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{t: testStart}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyshift.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatalf("sealer: %v", err)
	}
	e := &env{st: st, sealer: sealer, clock: clock}
	e.tx(t, func(tx store.Tx) error {
		for _, id := range []string{store.PlatformTenant, "acme", "globex"} {
			if err := tx.CreateTenant(ctx, store.Tenant{ID: id, Name: id, Status: store.StatusActive}); err != nil {
				return err
			}
		}
		return nil
	})
	return e
}

func (e *env) tx(t testing.TB, fn func(tx store.Tx) error) {
	t.Helper()
	if err := e.st.Tx(context.Background(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

// notifier returns a Notifier on e's store with deterministic backoff (the
// ceiling itself) and private addresses allowed, for httptest receivers.
func (e *env) notifier(t testing.TB, cfg Config) *Notifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration { return d }
	}
	if cfg.HTTPClient == nil {
		cfg.AllowPrivateNetworks = true
	}
	n, err := New(e.st, e.sealer, cfg)
	if err != nil {
		t.Fatalf("new notifier: %v", err)
	}
	return n
}

// setWebhook configures tenant's webhook and returns its secret.
func (e *env) setWebhook(t testing.TB, tenant, url string) string {
	t.Helper()
	var secret string
	e.tx(t, func(tx store.Tx) error {
		var err error
		secret, err = SetWebhook(context.Background(), tx, e.sealer, tenant, url, e.clock.Now())
		return err
	})
	return secret
}

// enqueue writes a message in its own transaction and returns its ID.
func (e *env) enqueue(t testing.TB, tenant, topic string, data any) string {
	t.Helper()
	var id string
	e.tx(t, func(tx store.Tx) error {
		var err error
		id, err = Enqueue(context.Background(), tx, tenant, topic, data, e.clock.Now())
		return err
	})
	return id
}

// message reads one outbox message: the store contract has no getter, so an
// update reads it and aborts.
func (e *env) message(t testing.TB, id string) store.OutboxMessage {
	t.Helper()
	var got store.OutboxMessage
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.UpdateOutbox(context.Background(), id, func(m store.OutboxMessage) (store.OutboxMessage, error) {
			got = m
			return m, errPeek
		})
	})
	if !errors.Is(err, errPeek) {
		t.Fatalf("read outbox message %q: %v", id, err)
	}
	return got
}

var errPeek = errors.New("peek only")

// received is one request seen by a receiver.
type received struct {
	header http.Header
	body   []byte
	event  Event
	valid  bool // signature verified with the documented algorithm
}

// receiver is a webhook endpoint that verifies signatures the way the
// package documentation tells receivers to, and answers with the queued
// statuses (200 once they run out).
type receiver struct {
	*httptest.Server
	secret func() string
	now    func() time.Time

	mu       sync.Mutex
	statuses []int
	reply    string
	got      []received
}

func newReceiver(t testing.TB, now func() time.Time, statuses ...int) *receiver {
	r := &receiver{now: now, statuses: statuses, secret: func() string { return "" }}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	rec := received{header: req.Header.Clone(), body: body}
	rec.valid = docVerify(r.secret(), req.Header.Get(HeaderSignature), body, r.now())
	_ = json.Unmarshal(body, &rec.event)
	r.mu.Lock()
	r.got = append(r.got, rec)
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	reply := r.reply
	r.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// docVerify is the receiver snippet of the package documentation, verbatim.
func docVerify(secret, header string, body []byte, now time.Time) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false // missing, or too old: a replay
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// deliverDue runs one delivery round and fails the test on error.
func deliverDue(t testing.TB, n *Notifier) int {
	t.Helper()
	handled, err := n.DeliverDue(context.Background())
	if err != nil {
		t.Fatalf("deliver due: %v", err)
	}
	return handled
}
