package opa

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the decider's series. Labels are reasons and cache results:
// never an identity, a secret name or the URL.
type metrics struct {
	latency     *prometheus.HistogramVec
	decisions   *prometheus.CounterVec
	cache       *prometheus.CounterVec
	unavailable prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sa01_opa_decision_duration_seconds",
			Help:    "Latency of calls to OPA's decision path, by the reason of the decision (cache hits make no call).",
			Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"reason"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sa01_opa_decisions_total",
			Help: "Accesses decided by OPA, by reason (allowed, denied, undefined, bad_result, bad_status, too_large, malformed, unavailable, bad_input), cached or not.",
		}, []string{"reason"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sa01_opa_cache_lookups_total",
			Help: "Decision cache lookups: hit (a decision within the TTL), miss (a call to OPA), shared (waited for a concurrent identical access's call).",
		}, []string{"result"}),
		unavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sa01_opa_unavailable_total",
			Help: "Accesses refused because OPA gave no answer within the timeout (down, slow, 502, 503, 504).",
		}),
	}
	for _, r := range []Reason{ReasonAllowed, ReasonDenied, ReasonUndefined, ReasonUnavailable} {
		m.decisions.WithLabelValues(string(r))
	}
	for _, l := range []lookup{lookupHit, lookupMiss, lookupShared} {
		m.cache.WithLabelValues(string(l))
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.latency, m.decisions, m.cache, m.unavailable} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("opa: metrics: %w", err)
		}
	}
	return m, nil
}
