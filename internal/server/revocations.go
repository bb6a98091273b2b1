package server

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// revocationMetrics count what the revocation listener saw.
type revocationMetrics struct {
	notifications prometheus.Counter
	drops         prometheus.Counter
	connected     prometheus.Gauge
}

// revMetricsMu guards Server.revMetrics.
var revMetricsMu sync.Mutex

func (s *Server) revocationMetrics() *revocationMetrics {
	revMetricsMu.Lock()
	defer revMetricsMu.Unlock()
	if s.revMetrics != nil {
		return s.revMetrics
	}
	m := &revocationMetrics{
		notifications: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sa01_revocation_notifications_total",
			Help: "Revocations announced by the store (PostgreSQL NOTIFY) that made this node drop cached token and identity records.",
		}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sa01_revocation_listener_reconnects_total",
			Help: "Times the revocation listener's connection failed and was opened again; meanwhile revocations made elsewhere take effect here within the caches' 2 s.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sa01_revocation_listener_up",
			Help: "1 while the revocation listener holds a listening connection, else 0.",
		}),
	}
	s.d.Registry.MustRegister(m.notifications, m.drops, m.connected)
	s.revMetrics = m
	return m
}

// WatchRevocations makes revocations announced by the store (by any node
// or program sharing it) effective here at once: each announcement drops
// the cached token and identity records of the identity it names, and a
// reconnect of the listener drops every cached record, since
// announcements made while it was away are lost. Without announcements
// (SQLite, or while the listener is down) the caches still expire after
// their TTL (2 s), the fallback. It returns when ctx is done, or at once
// when the store has nothing to watch.
func (s *Server) WatchRevocations(ctx context.Context, feed store.Revocations) error {
	m := s.revocationMetrics()
	return feed.WatchRevocations(ctx, store.RevocationHandler{
		Revoked: func(name string) {
			m.notifications.Inc()
			if identity.CheckName(name) != nil {
				// Not a name this program writes: forget everything.
				s.forgetAll()
				return
			}
			s.d.Tokens.ForgetService(name)
			s.d.Identities.Forget(name)
		},
		Resync: func() {
			m.connected.Set(1)
			s.forgetAll()
		},
		Dropped: func(err error) {
			m.connected.Set(0)
			m.drops.Inc()
			s.log.Warn("the revocation listener lost its connection; reconnecting (revocations made elsewhere take effect here within 2 s meanwhile)", "error", safeErr(err))
		},
	})
}

func (s *Server) forgetAll() {
	s.d.Tokens.ForgetAll()
	s.d.Identities.ForgetAll()
}
