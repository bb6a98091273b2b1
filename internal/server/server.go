// Package server is the HTTP API of sa01-secrets: login of each identity
// with its own credential, expiring tokens, identities, and secret reads
// and writes under the role table and the least-privilege policy (package
// identity), every access audited under the caller's identity.
//
// [New] returns the handler; routes live in routes.go, middleware is
// composed in one place (middleware.go), and every error becomes a status
// and a {"code","message"} body in errors.go and nowhere else.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/ratelimit"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Secrets is what the server needs of the secrets service
// (*secrets.Service). The service records an audit event for every access
// it serves, stamped with the audit.Caller in the context.
type Secrets interface {
	Get(ctx context.Context, name string, version int) (secrets.Value, error)
	Put(ctx context.Context, name string, value sensitive.String, o secrets.PutOptions) (store.Version, error)
	List(ctx context.Context, prefix string, includeDeleted bool) ([]store.Secret, error)
	History(ctx context.Context, name string) (store.Secret, []store.Version, error)
	Delete(ctx context.Context, name string) error
	// PlatformKeys records and returns the store's Fernet keys by the
	// variable run injects them as (platform_key: true in the policy).
	PlatformKeys(ctx context.Context) (map[string]sensitive.String, error)
	Rollback(ctx context.Context, name string, to int, cas *int) (store.Version, error)
	Undelete(ctx context.Context, name string) error
	Destroy(ctx context.Context, name string, version int) error
	Import(ctx context.Context, entries []secrets.Entry, o secrets.ImportOptions) (int, error)
}

var _ Secrets = (*secrets.Service)(nil)

// Deps are the server's dependencies. Secrets, Tokens, Identities, Policy
// and Audit are required. Authentication is never off: every route but
// health, metrics and the OpenAPI document takes a token, and a token is
// had only by logging in with an identity's credential.
type Deps struct {
	Secrets    Secrets
	Tokens     *token.Manager
	Identities *identity.Manager
	Policy     *policy.Holder
	// OPA, when set, is asked about every access identity.Decide allows
	// (docs/opa.md): it narrows, never widens. Its metrics belong on
	// Registry.
	OPA    *opa.Decider
	Audit  audit.Recorder // events the server records itself: auth, identities and denials
	Logger *slog.Logger
	// CheckHost refuses requests whose Host header does not name a
	// loopback host; set it when the server listens on a loopback
	// address, where a browser page on another origin could otherwise
	// reach it through DNS rebinding.
	CheckHost bool

	// Checks are readiness checks by name ("store", "audit"), run by
	// /v1/sys/health.
	Checks map[string]func(context.Context) error
	// AuditKey opens the audit chain's MAC key, for GET /v1/audit/head and
	// POST /v1/audit/verify; nil: those routes answer 503.
	AuditKey func(context.Context) (*audit.MACKey, error)
	// KeyAges reports the loaded keys' ages for /metrics; may be nil.
	KeyAges func() []rotate.KeyAge
	// Registry receives the server's metrics; nil makes a new one.
	Registry *prometheus.Registry
	// LoginRate limits failed logins per source address and per identity
	// (loginlimit.go); the zero value is ratelimit.Default (10 failures a
	// minute, then blocks from 6 s doubling to 15 min), ratelimit.Disabled
	// turns it off. The counts are this node's own.
	LoginRate ratelimit.Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the HTTP API.
type Server struct {
	d       Deps
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	now     func() time.Time

	revMetrics *revocationMetrics // registered by the first WatchRevocations

	logins       *ratelimit.Limiter // failed logins, per source and identity; nil: off
	summaryArmed atomic.Bool        // a timer will record the login summaries
}

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// New returns the API handler.
func New(d Deps) *Server {
	s := &Server{d: d, log: d.Logger, now: d.Now, mux: http.NewServeMux(), logins: ratelimit.New(d.LoginRate)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if d.Registry == nil {
		s.d.Registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.d.Registry, s)
	s.routes()
	s.handler = s.middleware(s.mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Registry returns the metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.d.Registry }

// HTTPServer returns an http.Server for h with every timeout set.
func HTTPServer(addr string, h http.Handler, errLog *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if errLog != nil {
		srv.ErrorLog = slog.NewLogLogger(errLog.Handler(), slog.LevelWarn)
	}
	return srv
}
