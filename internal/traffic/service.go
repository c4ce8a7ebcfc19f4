package traffic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/internal/flushloop"
	"github.com/keyshift/keyshift/internal/store"
)

// Config configures a Service. Zero fields take the defaults.
type Config struct {
	// FlushEvery is the flush interval, and so the most counts a crash can
	// lose; default 5 s, as for key usage.
	FlushEvery time.Duration
	Logger     *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

// Service counts token requests in memory and writes the counts to the
// store every FlushEvery and once more when Start's context ends.
type Service struct {
	st  store.Store
	cfg Config
	log *slog.Logger
	rec *Recorder

	flushMu sync.Mutex
	pending []store.TokenUsageDelta // a failed flush, merged into the next one

	flushes *prometheus.CounterVec
	started atomic.Bool
	wg      sync.WaitGroup
}

// New returns a Service on st. Call Start to flush in the background.
func New(st store.Store, cfg Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("traffic: nil store")
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{st: st, cfg: cfg, log: cfg.Logger, rec: NewRecorder(),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_token_usage_flushes_total",
			Help: "Flushes of the per-client daily token request counts to the store, by result (ok, error).",
		}, []string{"result"})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(s.flushes); err != nil {
			return nil, fmt.Errorf("traffic: register metrics: %w", err)
		}
	}
	return s, nil
}

// RecordToken counts one request made with a token of clientID (of tenant)
// at now; see Recorder.RecordToken.
func (s *Service) RecordToken(tenant, clientID string, now time.Time) {
	s.rec.RecordToken(tenant, clientID, now)
}

// Start flushes in the background until ctx is done, then flushes one last
// time. Wait blocks until that final flush is over.
func (s *Service) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("traffic: service already started")
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.flushLoop(ctx)
	}()
	return nil
}

// Wait blocks until the background work started by Start has stopped,
// including the final flush. Close the store only after it returns.
func (s *Service) Wait() { s.wg.Wait() }

func (s *Service) flushLoop(ctx context.Context) {
	flushloop.Run(ctx, s.cfg.FlushEvery, s.Flush, func(err error, final bool) {
		if final {
			s.log.Error("traffic: final token usage flush failed; counts since the last flush are lost", "err", err)
			return
		}
		s.log.Warn("traffic: token usage flush failed; its counts are kept for the next one", "err", err)
	})
}

// Flush writes the counts recorded since the last successful flush in one
// store transaction. When the write fails the counts stay in memory and are
// merged into the next flush, so a transient store error loses nothing.
// Flushes are serialised; Flush may be called at any time (tests, shutdown).
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	batch := Merge(s.pending, s.rec.Drain())
	if len(batch) == 0 {
		return nil
	}
	err := s.st.Tx(ctx, func(tx store.Tx) error { return tx.AddTokenUsage(ctx, batch) })
	if err != nil {
		s.pending = batch
		s.flushes.WithLabelValues("error").Inc()
		return fmt.Errorf("flush token usage of %d client days: %w", len(batch), err)
	}
	s.pending = nil
	s.flushes.WithLabelValues("ok").Inc()
	return nil
}
