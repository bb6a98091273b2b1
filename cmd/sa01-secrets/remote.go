package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/remote"
)

// remoteClient returns a client of SA01_SECRETS_ADDR with a token: the
// given service logged in with the internal token, or, when service is "",
// SA01_SECRETS_TOKEN if set, else SA01_SECRETS_SERVICE (default admin).
func remoteClient(ctx context.Context, cfg *config.Config, service string) (*client.Client, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if service == "" {
		if !cfg.SecretsToken.IsZero() {
			return client.New(cfg.SecretsAddr, client.WithHTTPClient(hc), client.WithToken(cfg.SecretsToken.Reveal()))
		}
		service = cfg.SecretsService
	}
	if cfg.InternalToken.IsZero() {
		return nil, withCode(ExitDenied, errors.New(config.EnvInternalToken+" is not set: cannot log in to "+cfg.SecretsAddr),
			"set "+config.EnvSecretsToken+" to a service token, or "+config.EnvInternalToken+" to log in")
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

// openRemote logs in (as service, or with SA01_SECRETS_TOKEN when service
// is "") and returns the server's backend; a token made by logging in is
// revoked at Close.
func openRemote(ctx context.Context, g *globals, service string) (*remote.Backend, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	c, err := remoteClient(ctx, cfg, service)
	if err != nil {
		return nil, err
	}
	return remote.New(c, service != "" || cfg.SecretsToken.IsZero()), nil
}

// remoteErr maps client errors to CLI errors with exit codes and hints.
func remoteErr(err error, what string) error {
	var ue *remote.UnsupportedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return withCode(ExitUsage, err, "unset "+config.EnvSecretsAddr+" to run it on the local store")
	case errors.Is(err, client.ErrUnauthenticated):
		return withCode(ExitDenied, err, "cannot "+what+": check "+config.EnvSecretsToken+" or "+config.EnvInternalToken)
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
