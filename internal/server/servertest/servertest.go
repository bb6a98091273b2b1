// Package servertest runs the API over the secrets service on a temporary
// SQLite store, for tests and examples of packages that talk to the server.
package servertest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Server is a running test server: the real secrets service, tokens and
// identities over a SQLite store in a temporary directory.
type Server struct {
	*httptest.Server
	Secrets    *secrets.Service
	Tokens     *token.Manager
	Identities *identity.Manager
	Policy     *policy.Holder
	// Credentials holds each identity's credential: a service identity
	// for every service the policy names, and the operator "admin".
	Credentials map[string]string
	dir         string
	db          *sqlite.DB
}

// Start runs the API with the given policy. rec receives every audit event
// (nil: none are kept). Close it when done.
func Start(policyYAML string, rec audit.Recorder) (*Server, error) {
	return StartWith(policyYAML, rec, token.Options{})
}

// StartWith is Start with token options (TTL, max TTL).
func StartWith(policyYAML string, rec audit.Recorder, to token.Options) (*Server, error) {
	p, err := policy.Parse("policy.yaml", []byte(policyYAML))
	if err != nil {
		return nil, err
	}
	if rec == nil {
		rec = audit.Discard{}
	}
	dir, err := os.MkdirTemp("", "sa01-servertest-")
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "secrets.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ring, err := fernet.NewRing(fernet.GenerateKey())
	if err != nil {
		db.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	sec := secrets.New(db, ring, rec, time.Now)
	tm := token.NewManager(db, to)
	ids := identity.NewManager(db, identity.Options{})
	creds := map[string]string{}
	add := func(name string, o identity.AddOptions) error {
		is, err := ids.Add(context.Background(), name, o)
		if err == nil {
			creds[name] = is.Credential.Reveal()
		}
		return err
	}
	err = add("admin", identity.AddOptions{Kind: identity.Operator, Role: identity.Admin})
	for _, svc := range p.Services() {
		if err == nil && svc != "admin" {
			err = add(svc, identity.AddOptions{Kind: identity.Service})
		}
	}
	if err != nil {
		db.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	h := policy.Static(p)
	srv := server.New(server.Deps{
		Secrets:    sec,
		Tokens:     tm,
		Identities: ids,
		Policy:     h,
		Audit:      rec,
	})
	return &Server{Server: httptest.NewServer(srv), Secrets: sec, Tokens: tm, Identities: ids, Policy: h, Credentials: creds, dir: dir, db: db}, nil
}

// Close stops the server and removes its store.
func (s *Server) Close() {
	s.Server.Close()
	s.db.Close()
	os.RemoveAll(s.dir)
}

// Seed writes secrets as the local operator.
func (s *Server) Seed(values map[string]string) error {
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "seed", Source: "local"})
	for n, v := range values {
		if _, err := s.Secrets.Put(ctx, n, sensitive.New(v), secrets.PutOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// SetEnv gives a secret an env name, as a new version with the same value.
func (s *Server) SetEnv(name, env string) error {
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "seed", Source: "local"})
	v, err := s.Secrets.Get(ctx, name, 0)
	if err != nil {
		return err
	}
	_, err = s.Secrets.Put(ctx, name, v.Value, secrets.PutOptions{Env: env})
	return err
}

// Plant stores value as a new version of name straight into the store,
// with env as its env name when not "": a write made before today's
// rules on values and env names could, which readers must still handle.
func (s *Server) Plant(name, env, value string) error {
	k := s.Secrets.Ring().Primary()
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "legacy", Source: "local"})
	var m store.Meta
	if env != "" {
		m.EnvName = &env
	}
	_, _, err := s.Secrets.Store().Put(ctx, store.Write{Name: name, Meta: m, Actor: "legacy", Now: time.Now(),
		Seal: func(v int) (store.Sealed, error) {
			tok := string(k.Encrypt([]byte(value)))
			return store.Sealed{Token: tok, KeyID: k.ID(), Binding: secrets.Bind(k, name, v, k.ID(), tok)}, nil
		}})
	return err
}
