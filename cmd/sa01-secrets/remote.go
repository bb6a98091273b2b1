package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
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

func (r *remoteRunSource) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.c.Revoke(ctx) // the run's token dies with it
}
