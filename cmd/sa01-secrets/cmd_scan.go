package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// scanCommands returns the verbs of this group.
func scanCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newScanCommand(g), newMaskCommand(g)}
}

// knownValues returns every current and past value of every managed secret
// that the loaded keys decrypt (secrets.KnownValues). Without keys, or when
// the default SQLite store does not exist yet, there are none and only the
// rules run. Versions the keys cannot open are counted in a warning, by
// number only.
func knownValues(ctx context.Context, g *globals) ([]scan.KnownValue, error) {
	cfg, err := g.config()
	if err != nil || cfg.Keys == nil {
		return nil, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	if loc.sqlitePath != "" {
		if _, err := os.Stat(loc.sqlitePath); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	l, err := openLocal(ctx, g)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	out, unreadable, err := secrets.KnownValues(l.ctx, l.st, cfg.Keys, l.rec)
	if err != nil {
		return nil, err
	}
	if unreadable > 0 {
		fmt.Fprintf(g.stderr, "sa01-secrets: warning: %d secret versions do not decrypt under the loaded keys and are not searched for\n", unreadable)
	}
	return out, nil
}

// newKnownScanner builds a scanner with the known values, warning once per
// secret whose value is too short to be searched for.
func newKnownScanner(ctx context.Context, g *globals, useKnown bool) (*scan.Scanner, error) {
	if !useKnown {
		return scan.New(nil), nil
	}
	vals, err := knownValues(ctx, g)
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return scan.New(nil), nil
	}
	k := scan.NewKnownSet(vals)
	for _, name := range k.Skipped() {
		fmt.Fprintf(g.stderr, "sa01-secrets: warning: secret %s has a value shorter than %d bytes; it is not searched for\n", name, scan.MinKnownLength)
	}
	return scan.New(k), nil
}

type scanOptions struct {
	git            string
	staged         bool
	stdin          bool
	image          string
	includeIgnored bool
	format         string
	baseline       string
	writeBaseline  string
	explain        bool
	noKnown        bool
	workers        int
}

func newScanCommand(g *globals) *cobra.Command {
	var o scanOptions
	cmd := verb("scan [PATH...]", "Find secrets in files, git history, logs or docker images", nil, func(cmd *cobra.Command, args []string) error {
		return runScan(cmd.Context(), g, o, args)
	})
	f := cmd.Flags()
	f.StringVar(&o.git, "git", "", "scan the history of the git repository `REPO` (--git REPO or --git=REPO; default: the current directory)")
	f.Lookup("git").NoOptDefVal = "."
	f.BoolVar(&o.staged, "staged", false, "scan the lines added in the git index (pre-commit hook)")
	f.BoolVar(&o.stdin, "stdin", false, "scan standard input")
	f.StringVar(&o.image, "docker-image", "", "scan a `FILE` written by docker save")
	f.BoolVar(&o.includeIgnored, "include-ignored", false, "also scan files that .gitignore excludes")
	f.StringVar(&o.format, "format", "text", "text, json or sarif")
	f.StringVar(&o.baseline, "baseline", "", "ignore the findings accepted in `FILE`")
	f.StringVar(&o.writeBaseline, "write-baseline", "", "write every finding to `FILE` as accepted")
	f.BoolVar(&o.explain, "explain", false, "say on stderr why each dropped candidate was dropped")
	f.BoolVar(&o.noKnown, "no-known", false, "do not load managed secret values; rules only")
	f.IntVar(&o.workers, "workers", 0, "goroutines scanning (default: one per CPU)")
	return cmd
}

func runScan(ctx context.Context, g *globals, o scanOptions, args []string) error {
	if o.git == "." && len(args) == 1 {
		o.git, args = args[0], nil // --git REPO
	}
	inputs := 0
	for _, on := range []bool{len(args) > 0, o.git != "", o.staged, o.stdin, o.image != ""} {
		if on {
			inputs++
		}
	}
	if inputs > 1 {
		return usageError("scan one kind of input per run", "PATH, --git, --staged, --stdin and --docker-image are exclusive")
	}
	switch o.format {
	case "text", "json", "sarif":
	default:
		return usageError("", "--format: want text, json or sarif")
	}
	if len(args) == 0 && inputs == 0 {
		args = []string{"."}
	}
	fk, err := scanFingerprintKey(g)
	if err != nil {
		return err
	}
	var baseline *scan.Baseline
	if o.baseline != "" {
		if baseline, err = scan.ReadBaseline(o.baseline, fk); err != nil {
			return baselineError(err, "write one with --write-baseline FILE")
		}
	}
	var newBaseline *scan.BaselineWriter
	if o.writeBaseline != "" {
		if newBaseline, err = scan.CreateBaseline(o.writeBaseline, fk); err != nil {
			return baselineError(err, "")
		}
		defer newBaseline.Abort()
	}
	s, err := newKnownScanner(ctx, g, !o.noKnown)
	if err != nil {
		return err
	}
	s = s.WithFingerprintKey(fk)

	in := scan.Inputs{Paths: args, Git: o.git, Staged: o.staged, Image: o.image, IncludeIgnored: o.includeIgnored}
	if o.stdin {
		in.Stdin = g.stdin
	}
	suppressed, found := 0, 0
	out := bufio.NewWriterSize(g.stdout, 64<<10)
	var explain func(scan.Explained)
	if o.explain {
		explain = func(e scan.Explained) { scan.WriteExplained(g.stderr, e) }
	}
	// Findings are written as they come, in every format: memory does not
	// grow with them.
	write := func(f scan.Finding) error { return scan.WriteText(out, f) }
	closeOut := func() error { return nil }
	switch o.format {
	case "json":
		w := scan.NewJSONWriter(out)
		write, closeOut = w.Write, w.Close
	case "sarif":
		w := scan.NewSARIFWriter(out, s, version())
		write, closeOut = w.Write, w.Close
	}
	sum, err := s.RunInputs(ctx, in, o.workers, explain, func(f scan.Finding) error {
		if newBaseline != nil {
			if err := newBaseline.Add(f); err != nil {
				return err
			}
		}
		if baseline.Has(f) {
			suppressed++
			return nil
		}
		found++
		return write(f)
	})
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		out.Flush()
		if errors.Is(err, scan.ErrNotRepository) {
			return withCode(ExitUsage, err, "--git needs a repository; scan a directory with 'sa01-secrets scan DIR'")
		}
		return withCode(ExitError, err, "")
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if newBaseline != nil {
		if err := newBaseline.Commit(); err != nil {
			return withCode(ExitError, err, "")
		}
		fmt.Fprintf(g.stderr, "sa01-secrets: wrote %d findings to the baseline %s\n", newBaseline.Count(), scan.PrintableName(o.writeBaseline))
	}

	summary := fmt.Sprintf("%d findings in %s, %.1f MB", found, sum.What, float64(sum.Bytes)/1e6)
	if suppressed > 0 {
		summary += fmt.Sprintf("; %d accepted in the baseline", suppressed)
	}
	fmt.Fprintf(g.stderr, "sa01-secrets: %s\n", summary)
	if err := sum.Incomplete(); err != nil {
		return withCode(ExitError, err, "findings above are from what could be read")
	}
	if sum.Nothing && found == 0 {
		return withCode(ExitError, errors.New("nothing was scanned"), "check the paths, the repository or the input; an empty input is not a clean result")
	}
	if found > 0 {
		return checkFailed{}
	}
	return nil
}

// scanFingerprintKey is the key of the scanner's fingerprints
// (SA01_SECRETS_SCAN_KEY), or nil when it is not set.
func scanFingerprintKey(g *globals) (*scan.FingerprintKey, error) {
	cfg, err := g.config()
	if err != nil || cfg.ScanKey.IsZero() {
		return nil, err
	}
	return scan.NewFingerprintKey([]byte(cfg.ScanKey.Reveal()))
}

// baselineError is a baseline that cannot be read or written, with its
// hint.
func baselineError(err error, hint string) error {
	var be *scan.BaselineError
	if errors.As(err, &be) {
		return withCode(ExitUsage, err, be.Hint)
	}
	return withCode(ExitError, err, hint)
}

func newMaskCommand(g *globals) *cobra.Command {
	var noKnown bool
	cmd := verb("mask", "Copy stdin to stdout with every secret replaced by ****", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
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
