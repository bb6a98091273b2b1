package main

import (
	"context"
	"io"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/spf13/cobra"
)

// local is the local store with its audit recorder, for the verbs that
// work without a server; ctx carries the local operator as caller.
type local struct {
	ctx context.Context
	cfg *config.Config
	st  store.Store
	rec audit.Recorder
}

// openLocal opens the store of SA01_SECRETS_DB_DSN and its audit recorder.
func openLocal(ctx context.Context, g *globals) (*local, error) {
	return openLocalWith(ctx, g, "")
}

// openLocalWith is openLocal with the audit key opened by the keys of
// envFile when it names a readable env file (the rotation verbs work from
// it, and the environment may hold no key), else by the environment's.
func openLocalWith(ctx context.Context, g *globals, envFile string) (*local, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, g)
	if err != nil {
		return nil, err
	}
	var ring *fernet.Ring
	if envFile != "" {
		if ef, err := dotenv.Read(envFile); err == nil {
			ring, _ = rotate.EnvRing(ef)
		}
	}
	rec, err := openRecorderWith(ctx, g, st, ring)
	if err != nil {
		st.Close()
		return nil, err
	}
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
	return &local{ctx: ctx, cfg: cfg, st: st, rec: rec}, nil
}

// Close closes the store.
func (l *local) Close() error { return l.st.Close() }

// checkFormat refuses a --format outside want.
func checkFormat(format string, want ...string) error {
	for _, w := range want {
		if format == w {
			return nil
		}
	}
	list := want[0]
	for i, w := range want[1:] {
		if i == len(want)-2 {
			list += " or " + w
		} else {
			list += ", " + w
		}
	}
	return usageError("", "--format: want %s", list)
}

// writeReport writes v as indented JSON in format json, else with text.
func writeReport(g *globals, format string, v any, text func(io.Writer)) error {
	if format == "json" {
		return writeJSON(g.stdout, v)
	}
	text(g.stdout)
	return nil
}

// verb returns a command: use, its one-line help, its positional
// arguments (nil: any) and what it runs. The long help and the examples
// come from help/ (addHelp).
func verb(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args, RunE: run}
}

// group returns a command that only holds others.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := verb(use, short, nil, nil)
	c.AddCommand(subs...)
	return c
}
