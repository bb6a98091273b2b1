package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/server"
)

// timeout bounds each request of the CLI to the server.
const timeout = 30 * time.Second

// Dial returns a client of cfg's server (SA01_SECRETS_ADDR) with a token:
// SA01_SECRETS_TOKEN when set and identity is "", else a login with the
// credential in the file SA01_SECRETS_CREDENTIAL_FILE names. A non-empty
// identity is the one the credential must belong to (run --service): the
// server refuses another's.
func Dial(ctx context.Context, cfg *config.Config, identity string) (*client.Client, error) {
	if identity == "" && !cfg.Token.IsZero() {
		return client.New(cfg.SecretsAddr, client.WithHTTPClient(&http.Client{Timeout: timeout}), client.WithToken(cfg.Token.Reveal()))
	}
	return Login(ctx, cfg, "", identity)
}

// Explain asks cfg's server whether q is allowed, and why (policy
// explain through the server).
func Explain(ctx context.Context, cfg *config.Config, q client.ExplainQuery) (client.Explanation, error) {
	c, err := Dial(ctx, cfg, "")
	if err != nil {
		return client.Explanation{}, err
	}
	defer c.Close()
	e, err := c.Explain(ctx, q)
	return e, Fault(err, "explain")
}

// Login logs in to cfg's server with the credential in file (default:
// SA01_SECRETS_CREDENTIAL_FILE) as identity ("": the credential's own).
func Login(ctx context.Context, cfg *config.Config, file, identity string) (*client.Client, error) {
	if cfg.SecretsAddr == "" {
		return nil, fault.New(fault.Usage, errors.New(config.EnvSecretsAddr+" is not set"), "export "+config.EnvSecretsAddr+"=http://127.0.0.1:8200")
	}
	from := "--credential-file"
	if file == "" {
		file, from = cfg.CredentialFile, config.EnvCredentialFile
	}
	if file == "" {
		return nil, fault.New(fault.Denied, errors.New("no credential: cannot log in to "+config.MaskDSN(cfg.SecretsAddr)),
			"set "+config.EnvCredentialFile+" to the file holding your credential, or "+config.EnvSecretsToken+" to a token")
	}
	cred, err := client.ReadCredentialFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		// A file the caller named that is not there is a usage error, as
		// every verb's input file; one that is there and refused (too
		// open, not a credential) stays denied.
		return nil, fault.New(fault.Usage, fmt.Errorf("%s: credential file %s: does not exist", from, file), "")
	}
	if err != nil {
		return nil, fault.New(fault.Denied, err, "")
	}
	c, err := client.New(cfg.SecretsAddr, client.WithHTTPClient(&http.Client{Timeout: timeout}), client.WithCacheTTL(0))
	if err != nil {
		return nil, fault.New(fault.Usage, err, "")
	}
	if err := c.LoginAs(ctx, cred, identity); err != nil {
		if identity != "" && errors.Is(err, client.ErrDenied) {
			// The one 403 of a login: the credential is another identity's.
			return nil, fault.New(fault.Denied, err, "the credential in "+file+" is not "+identity+"'s: point "+config.EnvCredentialFile+" at the credential of "+identity)
		}
		what := "log in"
		if identity != "" {
			what += " as " + identity
		}
		return nil, Fault(err, what)
	}
	return c, nil
}

// Open logs in (as identity, or with SA01_SECRETS_TOKEN when identity is
// "") and returns the server's backend; a token made by logging in is
// revoked at Close.
func Open(ctx context.Context, cfg *config.Config, identity string) (*Backend, error) {
	c, err := Dial(ctx, cfg, identity)
	if err != nil {
		return nil, err
	}
	return New(c, identity != "" || cfg.Token.IsZero()), nil
}

// Fault classifies an error of the server, met trying to do what, as the
// same failure is on the local store, with a hint: the server's error
// codes first, then its statuses. Other errors are returned as they are.
func Fault(err error, what string) error {
	var ue *UnsupportedError
	var ae *client.APIError
	if errors.As(err, &ae) {
		switch ae.Code {
		case server.CodeCompromised:
			return fault.New(fault.Denied, err, "this version is marked compromised and is never served; put a new value")
		case server.CodeGone:
			return fault.New(fault.NotFound, err, "")
		case server.CodeInvalid, server.CodeTooLarge:
			return fault.New(fault.Usage, err, "")
		case server.CodeNotText:
			return fault.New(fault.Usage, err, secrets.HintNotText)
		case server.CodeIntegrity:
			if ae.Status != http.StatusInternalServerError {
				break // the audit chain's head (409): left to the status mapping below
			}
			return fault.New(fault.InvalidToken, err, "the server's store holds a version it cannot open: run 'sa01-secrets verify' beside the store")
		case server.CodeKeyNotLoaded:
			return fault.New(fault.InvalidToken, err, "the server has not loaded the key the message names: its operator adds that key to the server's "+config.EnvFernetPreviousKeys+" and restarts it (see 'sa01-secrets key list')")
		case server.CodeKeyNotExpected:
			return fault.New(fault.InvalidToken, err, "the server was started with a key its store does not expect: its operator loads the store's key and restarts it")
		}
	}
	switch {
	case errors.As(err, &ue):
		return fault.New(fault.Usage, err, "unset "+config.EnvSecretsAddr+" to run it on the local store")
	case errors.Is(err, client.ErrUnauthenticated):
		return fault.New(fault.Denied, err, "cannot "+what+": check "+config.EnvSecretsToken+" or "+config.EnvCredentialFile)
	case errors.Is(err, client.ErrDenied):
		return fault.New(fault.Denied, err, "your identity's role or the policy does not grant this (or the secret does not exist)")
	case errors.Is(err, client.ErrNotFound):
		return fault.New(fault.NotFound, err, "")
	case errors.Is(err, client.ErrConflict):
		return fault.New(fault.Conflict, err, "read the current version and retry with it")
	case errors.As(err, &ae) && errors.Is(err, client.ErrUnavailable):
		return fault.New(fault.Unavailable, err, "the server answered but cannot serve it: something it needs (its store, its audit trail or the platform's OPA) is unavailable; GET /v1/sys/health says which")
	case errors.Is(err, client.ErrUnavailable):
		return fault.New(fault.Unavailable, err, "is the server at "+config.EnvSecretsAddr+" running?")
	}
	return err
}
