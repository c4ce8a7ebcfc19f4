package gateway

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/guard"
)

// metrics are the gateway's Prometheus collectors. Labels take bounded
// values: configured route patterns, credential kinds, status codes,
// tenants and key decisions.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	keyRequests    *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_gateway_requests_total",
			Help: "Gateway requests by route pattern, credential kind (token, api_key, none) and HTTP status.",
		}, []string{"route", "credential", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyshift_gateway_request_duration_seconds",
			Help:    "Gateway request duration, upstream included, by route pattern and credential kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "credential"}),
		keyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_gateway_legacy_key_requests_total",
			Help: "Requests presenting a legacy API key, by tenant and decision (accepted, api_key_sunset, …), to watch migration progress.",
		}, []string{"tenant", "decision"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_gateway_rate_limited_total",
			Help: "Requests refused with 429 by the per-principal rate limit, by route and credential kind.",
		}, []string{"route", "credential"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_gateway_upstream_errors_total",
			Help: "Requests whose upstream exchange failed (answered 502 or 504), by route.",
		}, []string{"route"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.keyRequests, m.rateLimited, m.upstreamErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(route, cred string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, cred, statusLabel(code)).Inc()
	m.duration.WithLabelValues(route, cred).Observe(d.Seconds())
}

// observeKey counts a key request by tenant and decision. Unknown keys have
// no tenant.
func (m *metrics) observeKey(o guard.Outcome) {
	if o.Kind != guard.KindAPIKey {
		return
	}
	decision := o.KeyDecision
	if o.Code == guard.CodeInsufficientPermission {
		decision = o.Code
	}
	m.keyRequests.WithLabelValues(cmpOr(o.Tenant, "unknown"), cmpOr(decision, "unknown")).Inc()
}

// statusLabel avoids strconv for the common codes.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 429:
		return "429"
	case 502:
		return "502"
	}
	return strconv.Itoa(code)
}
