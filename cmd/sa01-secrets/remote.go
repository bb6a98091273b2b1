package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// remoteClient returns a client of SA01_SECRETS_ADDR with a token:
// SA01_SECRETS_TOKEN when set and identity is "", else a login with the
// credential in the file SA01_SECRETS_CREDENTIAL_FILE names. A non-empty
// identity is the one the credential must belong to (run --service): the
// server refuses another's.
func remoteClient(ctx context.Context, cfg *config.Config, identity string) (*client.Client, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if identity == "" && !cfg.Token.IsZero() {
		return client.New(cfg.SecretsAddr, client.WithHTTPClient(hc), client.WithToken(cfg.Token.Reveal()))
	}
	return loginClient(ctx, cfg, "", identity)
}

// loginClient logs in to SA01_SECRETS_ADDR with the credential in file
// (default: SA01_SECRETS_CREDENTIAL_FILE) as identity ("": the
// credential's own).
func loginClient(ctx context.Context, cfg *config.Config, file, identity string) (*client.Client, error) {
	if file == "" {
		file = cfg.CredentialFile
	}
	if file == "" {
		return nil, withCode(ExitDenied, errors.New("no credential: cannot log in to "+config.MaskDSN(cfg.SecretsAddr)),
			"set "+config.EnvCredentialFile+" to the file holding your credential, or "+config.EnvSecretsToken+" to a token")
	}
	cred, err := client.ReadCredentialFile(file)
	if err != nil {
		return nil, withCode(ExitDenied, err, "")
	}
	c, err := client.New(cfg.SecretsAddr, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}), client.WithCacheTTL(0))
	if err != nil {
		return nil, withCode(ExitUsage, err, "")
	}
	if err := c.LoginAs(ctx, cred, identity); err != nil {
		what := "log in"
		if identity != "" {
			what += " as " + identity
		}
		return nil, remoteErr(err, what)
	}
	return c, nil
}

// openRemote logs in (as identity, or with SA01_SECRETS_TOKEN when
// identity is "") and returns the server's backend; a token made by
// logging in is revoked at Close.
func openRemote(ctx context.Context, g *globals, identity string) (*remote.Backend, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	c, err := remoteClient(ctx, cfg, identity)
	if err != nil {
		return nil, err
	}
	return remote.New(c, identity != "" || cfg.Token.IsZero()), nil
}

// remoteErr maps client errors to CLI errors with the exit codes and
// hints the same failure has on the local store (exit.go): the server's
// error codes first, then its statuses.
func remoteErr(err error, what string) error {
	var ue *remote.UnsupportedError
	var ae *client.APIError
	if errors.As(err, &ae) {
		switch ae.Code {
		case server.CodeCompromised:
			return withCode(ExitDenied, err, extraHint(store.ErrCompromised))
		case server.CodeGone:
			return withCode(ExitNotFound, err, "")
		case server.CodeInvalid, server.CodeTooLarge:
			return withCode(ExitUsage, err, "")
		case server.CodeIntegrity:
			if ae.Status != http.StatusInternalServerError {
				break // the audit chain's head (409): left to the status mapping below
			}
			return withCode(ExitInvalidToken, err, "the server's store holds a version it cannot open: run 'sa01-secrets verify' beside the store")
		case server.CodeKeyNotExpected:
			return withCode(ExitInvalidToken, err, "the server was started with a key its store does not expect: its operator loads the store's key and restarts it")
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return withCode(ExitUsage, err, "unset "+config.EnvSecretsAddr+" to run it on the local store")
	case errors.Is(err, client.ErrUnauthenticated):
		return withCode(ExitDenied, err, "cannot "+what+": check "+config.EnvSecretsToken+" or "+config.EnvCredentialFile)
	case errors.Is(err, client.ErrDenied):
		return withCode(ExitDenied, err, "your identity's role or the policy does not grant this (or the secret does not exist)")
	case errors.Is(err, client.ErrNotFound):
		return withCode(ExitNotFound, err, "")
	case errors.Is(err, client.ErrConflict):
		return withCode(ExitConflict, err, "read the current version and retry with it")
	case errors.Is(err, client.ErrUnavailable):
		return withCode(ExitUnavailable, err, "is the server at "+config.EnvSecretsAddr+" running?")
	}
	return err
}
