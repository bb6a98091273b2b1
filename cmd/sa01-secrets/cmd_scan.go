package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// scanCommands returns the verbs of this group.
func scanCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newScanCommand(g), newMaskCommand(g)}
}

// newKnownScanner builds a scanner that also finds every current and past
// value of every managed secret the loaded keys decrypt
// (secrets.KnownScanner), warning on stderr of what it cannot search for.
// Without useKnown or keys, or when the default SQLite store does not
// exist yet, only the rules run.
func newKnownScanner(ctx context.Context, g *globals, useKnown bool) (*scan.Scanner, error) {
	if !useKnown {
		return scan.New(nil), nil
	}
	cfg, err := g.config()
	if err != nil || cfg.Keys == nil {
		return scan.New(nil), err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(loc.SQLitePath); loc.SQLitePath != "" && errors.Is(err, fs.ErrNotExist) {
		return scan.New(nil), nil
	}
	l, err := openLocal(ctx, g, "", nil)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return secrets.KnownScanner(l.Ctx, l.Store, cfg.Keys, l.Recorder, func(w string) { fmt.Fprintf(g.stderr, "sa01-secrets: warning: %s\n", w) })
}

type scanOptions struct {
	scan.Job
	stdin, explain, noKnown bool
}

func newScanCommand(g *globals) *cobra.Command {
	var o scanOptions
	cmd := verb("scan [PATH...]", "Find secrets in files, git history, logs or docker images", nil, func(cmd *cobra.Command, args []string) error {
		return runScan(cmd.Context(), g, o, args)
	})
	f := cmd.Flags()
	f.StringVar(&o.Git, "git", "", "scan the history of the git repository `REPO` (--git REPO or --git=REPO; default: the current directory)")
	f.Lookup("git").NoOptDefVal = "."
	f.BoolVar(&o.Staged, "staged", false, "scan the lines added in the git index (pre-commit hook)")
	f.BoolVar(&o.stdin, "stdin", false, "scan standard input")
	f.StringVar(&o.Image, "docker-image", "", "scan a `FILE` written by docker save")
	f.BoolVar(&o.IncludeIgnored, "include-ignored", false, "also scan files that .gitignore excludes")
	f.StringVar(&o.Format, "format", "text", "text, json or sarif")
	f.StringVar(&o.Baseline, "baseline", "", "ignore the findings accepted in `FILE`")
	f.StringVar(&o.WriteBaseline, "write-baseline", "", "write every finding to `FILE` as accepted")
	f.BoolVar(&o.explain, "explain", false, "say on stderr why each dropped candidate was dropped")
	f.BoolVar(&o.noKnown, "no-known", false, "do not load managed secret values; rules only")
	f.IntVar(&o.Workers, "workers", 0, "goroutines scanning (default: one per CPU)")
	return cmd
}

func runScan(ctx context.Context, g *globals, o scanOptions, args []string) error {
	if o.Git == "." && len(args) == 1 {
		o.Git, args = args[0], nil // --git REPO
	}
	if o.stdin {
		o.Stdin = g.stdin
	}
	if err := o.Select(args); err != nil {
		return usageError("scan one kind of input per run", "PATH, --git, --staged, --stdin and --docker-image are exclusive")
	}
	if err := checkFormat(o.Format, "text", "json", "sarif"); err != nil {
		return err
	}
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if o.Key, err = cfg.FingerprintKey(); err != nil {
		return err
	}
	if o.explain {
		o.Explain = g.stderr
	}
	o.Version = version()
	err = o.Run(ctx, func() (*scan.Scanner, error) { return newKnownScanner(ctx, g, !o.noKnown) }, g.stdout, g.stderr, "sa01-secrets: ")
	var be *scan.BaselineError
	var sf *scan.Failure
	switch {
	case errors.Is(err, scan.ErrFound):
		return checkFailed{}
	case errors.As(err, &sf):
		return fault.New(fault.Failed, sf.Err, sf.Remedy)
	case errors.As(err, &be):
		return withCode(ExitUsage, err, be.Hint)
	case errors.Is(err, scan.ErrNotRepository):
		return withCode(ExitUsage, err, "--git needs a repository; scan a directory with 'sa01-secrets scan DIR'")
	}
	return err
}

func newMaskCommand(g *globals) *cobra.Command {
	var noKnown bool
	cmd := verb("mask", "Copy stdin to stdout with every secret replaced by ****", cli.NoSecretArgs("a secret", "mask filters stdin: ./app 2>&1 | sa01-secrets mask"), func(cmd *cobra.Command, args []string) error {
		s, err := newKnownScanner(cmd.Context(), g, !noKnown)
		if err != nil {
			return err
		}
		if err := scan.NewMasker(s).StreamContext(cmd.Context(), g.stdin, g.stdout); err != nil {
			return withCode(ExitError, fmt.Errorf("mask: %w", err), "")
		}
		return nil
	})
	cmd.Flags().BoolVar(&noKnown, "no-known", false, "do not load managed secret values; rules only")
	return cmd
}
