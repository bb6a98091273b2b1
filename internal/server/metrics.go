package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// metrics are the server's Prometheus series. Labels are route names,
// status codes, outcomes and key IDs: never a secret name, a value or a
// token.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sa01_http_requests_total",
			Help: "HTTP requests by route name, status code and outcome (success or the error code).",
		}, []string{"route", "code", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sa01_http_request_duration_seconds",
			Help:    "HTTP request latency by route name.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sa01_tokens_live",
		Help: "Service tokens neither expired nor revoked.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.d.Tokens.Live(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sa01_auth_required",
		Help: "Always 1: every request but health, metrics and the OpenAPI document needs a token.",
	}, func() float64 { return 1 }))
	if cs, ok := s.d.Secrets.(interface{ CacheStats() secrets.CacheStats }); ok {
		reg.MustRegister(&readCacheCollector{stats: cs.CacheStats})
	}
	if s.d.KeyAges != nil {
		reg.MustRegister(&keyAgeCollector{ages: s.d.KeyAges})
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route string, status int, outcome string, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status), outcome).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

var keyAgeDesc = prometheus.NewDesc("sa01_key_age_seconds", "Age of each loaded Fernet key, by key ID (a one-way ID, not the key).", []string{"key_id", "primary"}, nil)

type keyAgeCollector struct{ ages func() []rotate.KeyAge }

func (c *keyAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyAgeDesc }

func (c *keyAgeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, k := range c.ages() {
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, k.Age.Seconds(), k.ID, strconv.FormatBool(k.Primary))
	}
}

// handleMetrics: GET /metrics, no token, nothing secret.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics.handler.ServeHTTP(w, r)
}

var readCacheDesc = prometheus.NewDesc("sa01_read_cache_reads_total",
	"Reads of current versions by how the read cache answered: hit (served from the cache), miss (read from the store), stale (a cached row the store had changed by the read's audit commit; then read from the store). All zero when the cache is off.",
	[]string{"result"}, nil)

type readCacheCollector struct{ stats func() secrets.CacheStats }

func (c *readCacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readCacheDesc }

func (c *readCacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(readCacheDesc, prometheus.CounterValue, float64(st.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(readCacheDesc, prometheus.CounterValue, float64(st.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(readCacheDesc, prometheus.CounterValue, float64(st.Stale), "stale")
}
