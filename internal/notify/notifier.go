package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxAttempts    = 12
	DefaultBaseBackoff    = 30 * time.Second
	DefaultMaxBackoff     = 6 * time.Hour
	DefaultPollEvery      = 5 * time.Second
	DefaultScheduleEvery  = time.Minute
	DefaultTimeout        = 10 * time.Second
	DefaultRetain         = 7 * 24 * time.Hour
	DefaultBatchSize      = 100
	DefaultWorkers        = 4
	defaultCleanupEvery   = time.Hour
	minBackoff            = time.Second
	maxErrorBodyChars     = 200
	maxDrainedBody        = 64 << 10
	maxLastErrorChars     = 500
	gaveUpPrefix          = "gave up"
	noWebhookMessage      = "no webhook configured"
	claimLeaseOverTimeout = 30 * time.Second
)

// Never is the NextAttemptAt of a message given up: far enough that
// ListDueOutbox never returns it, and a real time every backend can store.
var Never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Config configures a Notifier. Zero fields take the defaults above.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// HTTPClient sends webhooks. When nil, a client is built that follows
	// no redirect, uses no proxy and refuses to connect tenants' webhooks
	// to loopback, private, link-local and other non-public addresses (see
	// AllowPrivateNetworks). A given client is used with redirects turned
	// off but is otherwise trusted as is.
	HTTPClient *http.Client
	// AllowPrivateNetworks lets tenants' webhooks reach non-public
	// addresses (tests, single-network deployments). The operator's webhook
	// may always reach them.
	AllowPrivateNetworks bool
	// MaxAttempts is how many deliveries are tried before giving up.
	MaxAttempts int
	// BaseBackoff is the ceiling of the first retry delay; it doubles per
	// failed attempt up to MaxBackoff, and the delay is drawn uniformly
	// below the ceiling ("full jitter"), never under one second.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Jitter draws a delay in [0, ceiling); nil means uniform random.
	// Tests set it to return the ceiling.
	Jitter func(ceiling time.Duration) time.Duration
	// PollEvery is how often Run looks for due messages.
	PollEvery time.Duration
	// ScheduleEvery is how often RunScheduler plans notifications.
	ScheduleEvery time.Duration
	// Timeout bounds one delivery, connection to last response byte read.
	Timeout time.Duration
	// Retain is how long delivered messages stay in the outbox.
	Retain time.Duration
	// BatchSize is how many due messages one DeliverDue handles.
	BatchSize int
	// Workers is how many deliveries run at once.
	Workers int
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&c.MaxAttempts, DefaultMaxAttempts)
	setDefault(&c.BaseBackoff, DefaultBaseBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.PollEvery, DefaultPollEvery)
	setDefault(&c.ScheduleEvery, DefaultScheduleEvery)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.Retain, DefaultRetain)
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.Workers, DefaultWorkers)
	if c.Jitter == nil {
		c.Jitter = func(d time.Duration) time.Duration { return rand.N(d) }
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Notifier delivers the outbox to webhooks (Run, DeliverDue) and plans the
// timeline's notifications into it (RunScheduler, ScheduleDue). Several
// instances may run against one store: deliveries are claimed before being
// sent, and planned messages have deterministic IDs.
type Notifier struct {
	st     store.Store
	sealer *signing.Sealer
	cfg    Config
	// tenantClient and operatorClient send webhooks (see httpClients).
	tenantClient, operatorClient *http.Client
	m                            *metrics
}

// New returns a Notifier for st; sealer opens the webhook secrets.
func New(st store.Store, sealer *signing.Sealer, cfg Config) (*Notifier, error) {
	if st == nil || sealer == nil {
		return nil, errors.New("notify: store and sealer are required")
	}
	cfg.defaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	tc, oc := httpClients(cfg)
	return &Notifier{st: st, sealer: sealer, cfg: cfg, tenantClient: tc, operatorClient: oc, m: m}, nil
}

// Run delivers due messages every PollEvery, and removes delivered messages
// older than Retain every hour, until ctx is done. Errors are logged and
// retried at the next tick.
func (n *Notifier) Run(ctx context.Context) {
	tick := time.NewTicker(n.cfg.PollEvery)
	defer tick.Stop()
	var lastCleanup time.Time
	for {
		if now := n.cfg.Now(); now.Sub(lastCleanup) >= defaultCleanupEvery {
			if removed, err := n.Cleanup(ctx); err != nil {
				n.logErr(ctx, "notify: outbox cleanup failed", err)
			} else {
				lastCleanup = now
				n.cfg.Logger.Debug("notify: outbox cleaned", "removed", removed)
			}
		}
		for {
			handled, err := n.DeliverDue(ctx)
			if err != nil {
				n.logErr(ctx, "notify: delivery round failed", err)
			}
			if err != nil || handled < n.cfg.BatchSize {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Cleanup removes messages delivered more than Retain ago and returns how
// many. Messages given up are kept for the operator to inspect or Redeliver.
func (n *Notifier) Cleanup(ctx context.Context) (int, error) {
	var removed int
	err := n.st.Tx(ctx, func(tx store.Tx) error {
		var err error
		removed, err = tx.DeleteDeliveredOutbox(ctx, n.cfg.Now().Add(-n.cfg.Retain))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("clean outbox: %w", err)
	}
	return removed, nil
}

// logErr logs err unless ctx was cancelled (shutdown is not a failure).
func (n *Notifier) logErr(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	n.cfg.Logger.Log(ctx, store.LogLevel(err), msg, "err", err)
}

// backoff returns the delay before the next attempt after attempts failures.
func (n *Notifier) backoff(attempts int) time.Duration {
	ceiling := n.cfg.MaxBackoff
	if shift := attempts - 1; shift < 32 {
		ceiling = min(n.cfg.BaseBackoff<<shift, n.cfg.MaxBackoff)
	}
	if ceiling <= 0 { // overflow
		ceiling = n.cfg.MaxBackoff
	}
	return max(n.cfg.Jitter(ceiling), minBackoff)
}

// metrics are the notifier's Prometheus collectors; labels take only
// bounded values.
type metrics struct {
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
	enqueued   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome (delivered, failed, gave_up, no_webhook).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keyshift_webhook_delivery_duration_seconds",
			Help:    "Duration of webhook HTTP requests.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_notifications_planned_total",
			Help: "Notifications the scheduler added to the outbox, by topic.",
		}, []string{"topic"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.duration, m.enqueued} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
