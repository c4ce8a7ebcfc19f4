package apikey

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// serviceMetrics are the Service's Prometheus collectors. The tenant label
// is set only for known keys, so its values are bounded by the tenants, not
// by what clients send.
type serviceMetrics struct {
	checks  *prometheus.CounterVec
	lookups *prometheus.CounterVec
	flushes *prometheus.CounterVec
	pending prometheus.Gauge
	unknown prometheus.Counter // checks{tenant="",decision="api_key_unknown"}
}

func newServiceMetrics(reg prometheus.Registerer, cache *keyCache) (*serviceMetrics, error) {
	m := &serviceMetrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_api_key_checks_total",
			Help: "Legacy API key checks by tenant (empty for unknown keys) and decision.",
		}, []string{"tenant", "decision"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_api_key_store_lookups_total",
			Help: "API key lookups that missed the cache and asked the store, by outcome (found, unknown, error).",
		}, []string{"outcome"}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_api_key_usage_flushes_total",
			Help: "Usage flushes by outcome (ok, error). Failed flushes are retried with the next one.",
		}, []string{"outcome"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyshift_api_key_usage_pending_deltas",
			Help: "Usage deltas kept in memory after a failed flush, waiting for the next one.",
		}),
	}
	m.unknown = m.checks.WithLabelValues("", CodeUnknown)
	if reg == nil {
		return m, nil
	}
	cached := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyshift_api_key_cached_keys",
		Help: "API keys held in the lookup cache.",
	}, func() float64 { n, _ := cache.len(); return float64(n) })
	unknown := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyshift_api_key_cached_unknown_hashes",
		Help: "Hashes held in the negative cache (presented keys the store did not know).",
	}, func() float64 { _, n := cache.len(); return float64(n) })
	for _, c := range []prometheus.Collector{m.checks, m.lookups, m.flushes, m.pending, cached, unknown} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register api key metrics: %w", err)
		}
	}
	return m, nil
}

// tenantCounters resolves the check counters of one tenant, one per code
// Decide returns, indexed like the recorder's outcomes; the others (unknown,
// which has no tenant, and "other") stay nil.
func (m *serviceMetrics) tenantCounters(tenant string) (c [len(outcomes)]prometheus.Counter) {
	for _, code := range []string{CodeAccepted, CodeSunset, CodeBrownout, CodeDisabled, CodeExpired} {
		c[outcomeIndex(code)] = m.checks.WithLabelValues(tenant, code)
	}
	return c
}
