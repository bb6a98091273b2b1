// Package servertest runs the API over an in-memory secrets service, for
// tests and examples of packages that talk to the server.
package servertest

import (
	"context"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// MemSecrets is a server.Secrets in memory that records audit events like
// the secrets service.
type MemSecrets struct {
	mu  sync.Mutex
	rec audit.Recorder
	m   map[string][]server.Secret
	env map[string]string
}

// NewMemSecrets returns an empty MemSecrets recording to rec (nil: none).
func NewMemSecrets(rec audit.Recorder) *MemSecrets {
	if rec == nil {
		rec = audit.Discard{}
	}
	return &MemSecrets{rec: rec, m: map[string][]server.Secret{}, env: map[string]string{}}
}

// SetEnv sets the env name of a secret.
func (s *MemSecrets) SetEnv(name, env string) {
	s.mu.Lock()
	s.env[name] = env
	s.mu.Unlock()
}

func (s *MemSecrets) record(ctx context.Context, action, name string, version int, reason string) error {
	ev := audit.Event{Action: action, Secret: name, Version: version, Outcome: audit.Success}
	if reason != "" {
		ev.Outcome, ev.Reason = audit.Failure, reason
	}
	return s.rec.Record(ctx, audit.Stamp(ctx, ev))
}

// Get implements server.Secrets.
func (s *MemSecrets) Get(ctx context.Context, name string, version int) (server.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.m[name]
	if len(vs) == 0 || version > len(vs) {
		_ = s.record(ctx, "read", name, version, "not found")
		return server.Secret{}, server.ErrNotFound
	}
	if version == 0 {
		version = len(vs)
	}
	if err := s.record(ctx, "read", name, version, ""); err != nil {
		return server.Secret{}, audit.ErrNotRecorded
	}
	sec := vs[version-1]
	sec.Env = s.env[name]
	return sec, nil
}

// Put implements server.Secrets.
func (s *MemSecrets) Put(ctx context.Context, name string, v sensitive.String, cas *int) (server.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cas != nil && *cas != len(s.m[name]) {
		return server.Meta{}, server.ErrConflict
	}
	if v.IsZero() {
		return server.Meta{}, server.ErrInvalidBody
	}
	m := server.Meta{Name: name, Version: len(s.m[name]) + 1, CreatedAt: time.Now().UTC(), CreatedBy: audit.CallerFrom(ctx).Actor, Env: s.env[name]}
	s.m[name] = append(s.m[name], server.Secret{Meta: m, Value: v})
	_ = s.record(ctx, "write", name, m.Version, "")
	return m, nil
}

// List implements server.Secrets.
func (s *MemSecrets) List(ctx context.Context, prefix string) ([]server.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []server.Meta
	for n, vs := range s.m {
		if strings.HasPrefix(n, prefix) && len(vs) > 0 {
			m := vs[len(vs)-1].Meta
			m.Env = s.env[n]
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	_ = s.record(ctx, "list", prefix, 0, "")
	return out, nil
}

// History implements server.Secrets.
func (s *MemSecrets) History(ctx context.Context, name string) ([]server.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.m[name]
	if len(vs) == 0 {
		return nil, server.ErrNotFound
	}
	out := make([]server.Meta, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Meta)
	}
	_ = s.record(ctx, "history", name, 0, "")
	return out, nil
}

// Delete implements server.Secrets.
func (s *MemSecrets) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m[name]) == 0 {
		return server.ErrNotFound
	}
	delete(s.m, name)
	_ = s.record(ctx, "delete", name, 0, "")
	return nil
}

// Server is a running test server.
type Server struct {
	*httptest.Server
	Secrets *MemSecrets
	Tokens  *token.Manager
	Policy  *policy.Holder
}

// Start runs the API with the given policy and internal token over
// MemSecrets; auth is required. Close it when done.
func Start(policyYAML, internalToken string, rec audit.Recorder) (*Server, error) {
	p, err := policy.Parse("policy.yaml", []byte(policyYAML))
	if err != nil {
		return nil, err
	}
	if rec == nil {
		rec = audit.Discard{}
	}
	sec := NewMemSecrets(rec)
	tm := token.NewManager(token.NewMemStore(), token.Options{})
	h := policy.Static(p)
	srv := server.New(server.Deps{
		Secrets:       sec,
		Tokens:        tm,
		Policy:        h,
		Audit:         rec,
		AuthRequired:  true,
		InternalToken: sensitive.New(internalToken),
	})
	return &Server{Server: httptest.NewServer(srv), Secrets: sec, Tokens: tm, Policy: h}, nil
}

// Seed writes secrets as the local operator.
func (s *Server) Seed(values map[string]string) error {
	for n, v := range values {
		if _, err := s.Secrets.Put(context.Background(), n, sensitive.New(v), nil); err != nil {
			return err
		}
	}
	return nil
}
