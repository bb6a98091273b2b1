package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// besideStoreVerbs are the verbs that work on the key file or the store
// itself and have no route on the server: with SA01_SECRETS_ADDR set the
// root's pre-run refuses them at once, before reading a key or a file.
var besideStoreVerbs = []string{"key rotate", "key stage", "key promote", "key retire", "reencrypt", "targets status"}

// viaServer runs fn over the server with the caller's identity when
// SA01_SECRETS_ADDR is set, and reports that it did; with it unset it
// returns false and the verb runs on the local store.
func viaServer(cmd *cobra.Command, g *globals, fn func(ctx context.Context, b *remote.Backend) error) (bool, error) {
	cfg, err := g.config()
	if err != nil || cfg.SecretsAddr == "" {
		return err != nil, err
	}
	b, err := remote.Open(cmd.Context(), cfg, "")
	if err != nil {
		return true, err
	}
	err = fn(cmd.Context(), b)
	if cerr := b.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if _, _, ok := coded(err); ok || errors.As(err, new(checkFailed)) {
		return true, err
	}
	if errors.Is(err, client.ErrDenied) {
		return true, withCode(ExitDenied, err, "your identity's role does not grant "+g.verb+" (roles: docs/server.md)")
	}
	return true, remote.Fault(err, g.verb+" through the server")
}

// onBackend runs fn on served(the server's backend) when
// SA01_SECRETS_ADDR is set (viaServer), else on local(the local store and
// its recorder, openLocal), with ctx carrying the local operator as caller.
func onBackend[B any](cmd *cobra.Command, g *globals, served func(*remote.Backend) B, local func(*open.Local) (B, error), fn func(ctx context.Context, b B) error) error {
	if ok, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error { return fn(ctx, served(b)) }); ok {
		return err
	}
	l, err := openLocal(cmd.Context(), g, "", nil)
	if err != nil {
		return err
	}
	defer l.Close()
	b, err := local(l)
	if err != nil {
		return err
	}
	return fn(l.Ctx, b)
}
