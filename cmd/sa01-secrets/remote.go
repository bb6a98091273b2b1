package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Variables of the remote CLI, beside SA01_SECRETS_ADDR.
const (
	// envSecretsToken is a service token for the CLI verbs (from
	// "sa01-secrets login"). Unset: the CLI logs in with the internal token.
	envSecretsToken = "SA01_SECRETS_TOKEN"
	// envSecretsService is the service the CLI logs in as with the internal
	// token; default "admin".
	envSecretsService    = "SA01_SECRETS_SERVICE"
	defaultRemoteService = "admin"
)

// remoteClient returns a client of SA01_SECRETS_ADDR with a token: the
// given service logged in with the internal token, or, when service is "",
// SA01_SECRETS_TOKEN if set, else SA01_SECRETS_SERVICE (default admin).
func remoteClient(ctx context.Context, g *globals, cfg *config.Config, service string) (*client.Client, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if service == "" {
		if tok := g.getenv(envSecretsToken); tok != "" {
			return client.New(cfg.SecretsAddr, client.WithHTTPClient(hc), client.WithToken(tok))
		}
		service = g.getenv(envSecretsService)
		if service == "" {
			service = defaultRemoteService
		}
	}
	if cfg.InternalToken.IsZero() {
		return nil, withCode(ExitDenied, errors.New(config.EnvInternalToken+" is not set: cannot log in to "+cfg.SecretsAddr),
			"set "+envSecretsToken+" to a service token, or "+config.EnvInternalToken+" to log in")
	}
	c, err := client.New(cfg.SecretsAddr, client.WithHTTPClient(hc), client.WithCacheTTL(0))
	if err != nil {
		return nil, withCode(ExitUsage, err, "")
	}
	if err := c.Login(ctx, cfg.InternalToken.Reveal(), service); err != nil {
		return nil, remoteErr(err, "log in as "+service)
	}
	return c, nil
}

// remoteErr maps client errors to CLI errors with exit codes and hints.
func remoteErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrUnauthenticated):
		return withCode(ExitDenied, err, "cannot "+what+": check "+envSecretsToken+" or "+config.EnvInternalToken)
	case errors.Is(err, client.ErrDenied):
		return withCode(ExitDenied, err, "the policy does not grant this (or the secret does not exist)")
	case errors.Is(err, client.ErrNotFound):
		return withCode(ExitNotFound, err, "")
	case errors.Is(err, client.ErrConflict):
		return withCode(ExitConflict, err, "read the current version and retry with it")
	case errors.Is(err, client.ErrUnavailable):
		return withCode(ExitUnavailable, err, "is the server at "+config.EnvSecretsAddr+" running?")
	}
	return err
}

// remoteRunSource serves run from the server.
type remoteRunSource struct {
	c *client.Client
}

func openRemoteRunSource(ctx context.Context, g *globals, cfg *config.Config, service string) (runSource, error) {
	c, err := remoteClient(ctx, g, cfg, service)
	if err != nil {
		return nil, err
	}
	return &remoteRunSource{c: c}, nil
}

func (r *remoteRunSource) Granted(ctx context.Context) ([]runEntry, error) {
	list, err := r.c.List(ctx, "")
	if err != nil {
		return nil, remoteErr(err, "list secrets")
	}
	var out []runEntry
	for _, m := range list {
		if m.Readable {
			out = append(out, runEntry{Name: m.Name, Env: m.Env, Version: m.Version})
		}
	}
	return out, nil
}

func (r *remoteRunSource) Value(ctx context.Context, name string) (sensitive.String, int, error) {
	s, err := r.c.GetVersion(ctx, name, 0)
	if err != nil {
		return sensitive.String{}, 0, remoteErr(err, "read "+name)
	}
	return sensitive.New(s.Value()), s.Version, nil
}

// Started records nothing here: the server audited the login and every
// read under the service's token.
func (r *remoteRunSource) Started(context.Context, string, int) error { return nil }

func (r *remoteRunSource) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.c.Revoke(ctx) // the run's token dies with it
}

// remoteConfigured reports whether SA01_SECRETS_ADDR points the CLI at a
// server.
func remoteConfigured(g *globals) bool {
	return g.getenv(config.EnvSecretsAddr) != ""
}

// remoteBackend is the secret verbs' backend when SA01_SECRETS_ADDR is set:
// every call goes to the server, which applies the policy and audits.
type remoteBackend struct {
	c      *client.Client
	revoke bool // the token was made by this process: revoke it at Close
}

var _ secretBackend = (*remoteBackend)(nil)

// openRemoteBackend logs in (or uses SA01_SECRETS_TOKEN) and returns the
// backend.
func openRemoteBackend(ctx context.Context, g *globals) (context.Context, secretBackend, error) {
	cfg, err := g.config()
	if err != nil {
		return ctx, nil, err
	}
	c, err := remoteClient(ctx, g, cfg, "")
	if err != nil {
		return ctx, nil, err
	}
	return ctx, &remoteBackend{c: c, revoke: g.getenv(envSecretsToken) == ""}, nil
}

func errRemoteUnsupported(verb string) error {
	return withCode(ExitUsage, errors.New(verb+" is not available through the server"),
		"unset "+config.EnvSecretsAddr+" to run it on the local store")
}

func (b *remoteBackend) Put(ctx context.Context, name string, value sensitive.String, o secrets.PutOptions) (store.Version, error) {
	m, err := b.c.PutWith(ctx, name, value.Reveal(), client.PutOptions{
		CAS: o.CAS, Env: o.Env, Class: o.Class, Description: o.Description, Owner: o.Owner, RotationPeriod: o.RotationPeriod,
	})
	if err != nil {
		return store.Version{}, remoteErr(err, "write "+name)
	}
	return store.Version{Secret: name, Version: m.Version, CreatedAt: m.CreatedAt, Actor: m.CreatedBy}, nil
}

func (b *remoteBackend) Get(ctx context.Context, name string, version int) (secrets.Value, error) {
	s, err := b.c.GetVersion(ctx, name, version)
	if err != nil {
		return secrets.Value{}, remoteErr(err, "read "+name)
	}
	return secrets.Value{
		Secret:  store.Secret{Name: s.Name, EnvName: s.Env, CurrentVersion: s.Version},
		Version: store.Version{Secret: s.Name, Version: s.Version, CreatedAt: s.CreatedAt},
		Value:   sensitive.New(s.Value()),
	}, nil
}

func (b *remoteBackend) List(ctx context.Context, prefix string, includeDeleted bool) ([]store.Secret, error) {
	if includeDeleted {
		return nil, errRemoteUnsupported("list --deleted")
	}
	ms, err := b.c.List(ctx, prefix)
	if err != nil {
		return nil, remoteErr(err, "list secrets")
	}
	out := make([]store.Secret, 0, len(ms))
	for _, m := range ms {
		out = append(out, store.Secret{Name: m.Name, EnvName: m.Env, CurrentVersion: m.Version, UpdatedAt: m.CreatedAt,
			Class: m.Class, RotationPeriod: time.Duration(m.Rotation) * time.Second})
	}
	return out, nil
}

func (b *remoteBackend) History(ctx context.Context, name string) (store.Secret, []store.Version, error) {
	ms, err := b.c.History(ctx, name)
	if err != nil {
		return store.Secret{}, nil, remoteErr(err, "read the history of "+name)
	}
	sec := store.Secret{Name: name}
	vs := make([]store.Version, 0, len(ms))
	for _, m := range ms {
		vs = append(vs, store.Version{Secret: name, Version: m.Version, CreatedAt: m.CreatedAt, Actor: m.CreatedBy, KeyID: m.KeyID})
		sec.EnvName, sec.CurrentVersion = m.Env, max(sec.CurrentVersion, m.Version)
	}
	return sec, vs, nil
}

func (b *remoteBackend) Delete(ctx context.Context, name string) error {
	return remoteErr(b.c.Delete(ctx, name), "delete "+name)
}

func (b *remoteBackend) Export(ctx context.Context, prefix string) ([]secrets.Value, error) {
	ms, err := b.c.List(ctx, prefix)
	if err != nil {
		return nil, remoteErr(err, "list secrets")
	}
	var out []secrets.Value
	for _, m := range ms {
		if !m.Readable {
			continue
		}
		v, err := b.Get(ctx, m.Name, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (b *remoteBackend) Rollback(context.Context, string, int, *int) (store.Version, error) {
	return store.Version{}, errRemoteUnsupported("rollback")
}

func (b *remoteBackend) Undelete(context.Context, string) error {
	return errRemoteUnsupported("undelete")
}

func (b *remoteBackend) Destroy(context.Context, string, int) error {
	return errRemoteUnsupported("destroy")
}

func (b *remoteBackend) Import(context.Context, []secrets.Entry, secrets.ImportOptions) (int, error) {
	return 0, errRemoteUnsupported("import")
}

func (b *remoteBackend) Verify(context.Context) (*secrets.Report, error) {
	return nil, errRemoteUnsupported("verify")
}

func (b *remoteBackend) Close() error {
	if b.revoke {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.c.Revoke(ctx)
	} else {
		b.c.Close()
	}
	return nil
}
