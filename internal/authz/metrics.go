package authz

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the protocol endpoints' Prometheus collectors. Labels take
// only bounded values: known grant types, error codes, endpoint names.
type metrics struct {
	tokenRequests  *prometheus.CounterVec
	tokenDuration  *prometheus.HistogramVec
	introspections *prometheus.CounterVec
	revocations    *prometheus.CounterVec
	throttled      *prometheus.CounterVec
	authorizations *prometheus.CounterVec
	logins         *prometheus.CounterVec
	grantsRevoked  *prometheus.CounterVec
}

// newMetrics creates the collectors and registers them with reg (if any).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_token_requests_total",
			Help: "Token endpoint requests by grant type and outcome (issued or the OAuth error code).",
		}, []string{"grant", "outcome"}),
		tokenDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyshift_token_request_duration_seconds",
			Help:    "Token endpoint request duration by grant type.",
			Buckets: []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"grant"}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_introspection_requests_total",
			Help: "Introspection requests by outcome (active, inactive or the OAuth error code).",
		}, []string{"outcome"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_revocation_requests_total",
			Help: "Revocation requests by outcome (revoked, ignored or the OAuth error code).",
		}, []string{"outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_client_auth_throttled_total",
			Help: "Requests refused because a client id or address exceeded its failed-authentication budget.",
		}, []string{"endpoint"}),
		authorizations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_authorization_requests_total",
			Help: "Authorization endpoint outcomes: code issued, or the error code (csrf for a refused form).",
		}, []string{"outcome"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_logins_total",
			Help: "Sign-ins at keyshift's pages by outcome (success, failure, throttled).",
		}, []string{"outcome"}),
		grantsRevoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyshift_grants_revoked_total",
			Help: "Grants revoked on a security signal (code_replay, refresh_reuse).",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.tokenRequests, m.tokenDuration, m.introspections, m.revocations, m.throttled, m.authorizations, m.logins, m.grantsRevoked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// grantLabel bounds the grant label to grant types we know.
func grantLabel(gt string, known bool) string {
	switch {
	case gt == "":
		return "none"
	case !known:
		return "unsupported"
	default:
		return gt
	}
}
