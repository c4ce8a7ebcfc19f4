package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyshift/keyshift/tokensource"
)

// metrics are the agent's Prometheus series.
type metrics struct {
	events     *prometheus.CounterVec
	proxied    *prometheus.CounterVec
	expiry     prometheus.Gauge
	fileWrites prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_agent_token_events_total",
			Help: "Token events: minted, cache_hit, failed, invalidated.",
		}, []string{"event"}),
		proxied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_agent_proxy_responses_total",
			Help: "Responses of the API to proxied requests, by status class.",
		}, []string{"class"}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyshift_agent_token_expiry_timestamp_seconds",
			Help: "Expiry of the current access token (Unix time).",
		}),
		fileWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyshift_agent_token_file_writes_total",
			Help: "Times the token file was replaced.",
		}),
	}
	for _, c := range []prometheus.Collector{m.events, m.proxied, m.expiry, m.fileWrites} {
		_ = reg.Register(c) // with a shared registry only the first agent is exported
	}
	for _, e := range []tokensource.EventType{tokensource.EventMinted, tokensource.EventCacheHit, tokensource.EventFailed, tokensource.EventInvalidated} {
		m.events.WithLabelValues(string(e))
	}
	return m
}

func (m *metrics) observe(e tokensource.Event) {
	m.events.WithLabelValues(string(e.Type)).Inc()
}
