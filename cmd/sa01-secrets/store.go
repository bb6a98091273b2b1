package main

import (
	"cmp"
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// locateStore reads SA01_SECRETS_DB_DSN (open.Locate).
func locateStore(g *globals) (open.Location, error) {
	cfg, err := g.config()
	if err != nil {
		return open.Location{}, err
	}
	return open.Locate(cfg.DBDSN.Reveal(), g.getenv)
}

// openStore opens the existing store SA01_SECRETS_DB_DSN names, or with
// create also a missing SQLite one (open.Location.Open): init.
func openStore(ctx context.Context, g *globals, create bool) (store.Store, error) {
	if err := besideStore(g, cmp.Or(g.verb, "this verb")); err != nil {
		return nil, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	return loc.Open(ctx, create)
}

// auditBound is how long an access waits for its audit event to be
// recorded before it is refused: audit.DefaultTimeout. The tests of this
// package raise it, as -race on a loaded machine can take longer; nothing
// else changes it.
var auditBound = audit.DefaultTimeout

// openRecorder returns the audit recorder for accesses through st
// (open.Recorder), with the audit key opened by ring (nil: the
// environment's keys).
func openRecorder(ctx context.Context, g *globals, st store.Store, ring *fernet.Ring) (audit.Recorder, error) {
	cfg, err := g.config()
	if err == nil && ring == nil {
		ring, err = requireKeys(g)
	}
	if err != nil {
		return nil, err
	}
	return open.Recorder(ctx, st, ring, recorderOptions(g, cfg))
}

// recorderOptions are the audit settings of the local verbs.
func recorderOptions(g *globals, cfg *config.Config) open.RecorderOptions {
	return open.RecorderOptions{File: cfg.AuditFile, Stdout: g.stdout, Bound: auditBound, Logger: g.log()}
}

// openLocal opens the store of SA01_SECRETS_DB_DSN and its audit
// recorder (open.OpenLocal), with the audit key opened by the keys of
// envFile when it names a readable env file (the rotation verbs work from
// it, and the environment may hold no key), else by the environment's;
// or by ring's keys, when not nil (reencrypt's --old-key-file and
// --new-key-file).
func openLocal(ctx context.Context, g *globals, envFile string, ring *fernet.Ring) (*open.Local, error) {
	if err := besideStore(g, cmp.Or(g.verb, "this verb")); err != nil {
		return nil, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	if ring == nil && envFile != "" {
		ring, _ = rotate.ReadEnvRing(envFile) // unreadable: the environment's
	}
	return open.OpenLocal(ctx, g.cfg, loc, ring, recorderOptions(g, g.cfg))
}
