package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// scanCommands returns the verbs of this group.
func scanCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newScanCommand(g), newMaskCommand(g)}
}

// ActionScanKnown is the audit action of decrypting every version for
// scan or mask: one event per run, with counts, never values.
const ActionScanKnown = "scan-known-values"

// knownValues returns every current and past value of every managed secret
// that the loaded keys decrypt, for exact detection and masking: deleted
// secrets and compromised versions included (they are exactly what must not
// turn up anywhere); destroyed versions have no value left. It is the one
// place where the scanner meets the store. Without keys, or when the default
// SQLite store does not exist yet, there are none and only the rules run.
// Versions the keys cannot open (a retired key, a bad binding) are counted
// in a warning, by number only.
func knownValues(ctx context.Context, g *globals) ([]scan.KnownValue, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if cfg.Keys == nil {
		return nil, nil
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
	st, err := openStore(ctx, g)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []scan.KnownValue
	unreadable := 0
	err = st.WalkVersions(ctx, 256, func(vs []store.Version) error {
		for _, v := range vs {
			if v.Destroyed() || v.Token == "" {
				continue
			}
			k := cfg.Keys.Key(v.KeyID)
			if k == nil || !secrets.CheckBinding(k, v.Secret, v.Version, v.KeyID, v.Token, v.Binding) {
				unreadable++
				continue
			}
			pt, err := k.Decrypt([]byte(v.Token))
			if err != nil {
				unreadable++
				continue
			}
			out = append(out, scan.KnownValue{Name: v.Secret, Version: v.Version, Value: pt})
		}
		return nil
	})
	ev := audit.Event{Time: time.Now(), Actor: osUser(), Source: "local", Action: ActionScanKnown,
		Detail: fmt.Sprintf("%d versions decrypted for scan or mask, %d not decryptable", len(out), unreadable)}
	if err != nil {
		ev.Outcome, ev.Reason = audit.Failure, "store read failed"
	} else {
		ev.Outcome = audit.Success
	}
	rec, rerr := openRecorder(ctx, g, st)
	if rerr == nil {
		rerr = rec.Record(ctx, ev)
	}
	if rerr != nil {
		return nil, fmt.Errorf("%w: %v", audit.ErrNotRecorded, rerr)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the store for known values: %w", err)
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
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
		Short: "Find secrets in files, git history, logs or docker images",
		Long: `scan looks for secrets with rules for the platform's own secrets (SA01_*
assignments, Fernet keys, DSNs with passwords, sa01s_ service tokens), LLM
providers, cloud providers, code hosting, Slack, Stripe, JWTs, PEM private
keys and generic password/secret/key/token assignments. With the keys loaded
(SA01_CRYPTO_FERNET_KEY), it also finds every current and past value of every
managed secret, raw or encoded, and names it.

Inputs: PATH... (files and directories; .git, binaries and what .gitignore
excludes are skipped), --git [REPO] (every line added by every commit on
every branch), --staged (lines added in the index: a pre-commit hook),
--stdin, or --docker-image FILE.tar (a docker save archive).

A scanned repository's configuration and attributes are not obeyed: git runs
no program they name and shows every line.

Findings never show a secret: the excerpt masks it as ****. A line with the
comment sa01-secrets:allow is silenced; --baseline ignores accepted findings,
recorded with --write-baseline by a keyed hash of the secret, rule and path:
baselines need SA01_SECRETS_SCAN_KEY (or _FILE), a key of 32 bytes or more
kept apart from them (sa01-secrets generate key makes one).

Exit codes: 0 clean, 1 findings, 8 when the scan failed or was partial (some
input unreadable, or nothing scanned).`,
		Example: `  sa01-secrets scan .
  sa01-secrets scan --git
  sa01-secrets scan --git ../gateway --format sarif > results.sarif
  docker logs gateway 2>&1 | sa01-secrets scan --stdin
  sa01-secrets scan --docker-image gateway.tar
  sa01-secrets scan --staged          # in .git/hooks/pre-commit
  sa01-secrets scan --write-baseline .sa01-baseline.json .
  sa01-secrets scan --baseline .sa01-baseline.json --explain src/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), g, o, args)
		},
	}
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

	var (
		walkSt  scan.WalkStats
		gitSt   scan.GitStats
		imageSt scan.ImageStats
		produce func(send func(scan.Unit) bool) error
	)
	switch {
	case o.git != "" || o.staged:
		repo := o.git
		if repo == "" {
			repo = "."
		}
		produce = func(send func(scan.Unit) bool) error { return scan.GitHistory(ctx, repo, o.staged, &gitSt, send) }
	case o.stdin:
		produce = func(send func(scan.Unit) bool) error {
			return scan.Chunks(bufio.NewReaderSize(g.stdin, 1<<20), "(stdin)", 0, send)
		}
	case o.image != "":
		produce = func(send func(scan.Unit) bool) error { return scan.DockerImage(o.image, &imageSt, send) }
	default:
		produce = func(send func(scan.Unit) bool) error {
			return scan.Walk(args, scan.WalkOptions{IncludeIgnored: o.includeIgnored}, &walkSt, send)
		}
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
	st, err := s.Run(ctx, o.workers, produce, explain, func(f scan.Finding) error {
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

	// What was scanned, and whether it was all of it.
	var what string
	var partial []string
	switch {
	case o.git != "" || o.staged:
		what = fmt.Sprintf("%d added lines in %d commits", gitSt.AddedLines, gitSt.Commits)
		if o.staged {
			what = fmt.Sprintf("%d staged added lines", gitSt.AddedLines)
		}
		if gitSt.Binaries > 0 {
			what += fmt.Sprintf(" (%d binary files skipped)", gitSt.Binaries)
		}
		partial = gitSt.Hidden
	case o.stdin:
		what = fmt.Sprintf("%d bytes of stdin", st.Bytes)
	case o.image != "":
		what = fmt.Sprintf("%d files in %d layers and the config of %s", imageSt.Files, imageSt.Layers, scan.PrintableName(o.image))
		partial = imageSt.Errors
	default:
		what = fmt.Sprintf("%d files (%d binary and %d ignored skipped)", walkSt.Files+st.Files, walkSt.Binaries+st.Binaries, walkSt.Ignored)
		partial = append(walkSt.Errors, st.Unreadable...)
	}
	summary := fmt.Sprintf("%d findings in %s, %.1f MB", found, what, float64(st.Bytes)/1e6)
	if suppressed > 0 {
		summary += fmt.Sprintf("; %d accepted in the baseline", suppressed)
	}
	fmt.Fprintf(g.stderr, "sa01-secrets: %s\n", summary)
	if len(partial) > 0 {
		for i, p := range partial {
			partial[i] = scan.Printable(p)
		}
		return withCode(ExitError, fmt.Errorf("scan incomplete: %d inputs could not be read: %s", len(partial), strings.Join(first(partial, 5), "; ")),
			"findings above are from what could be read")
	}
	nothing := st.Units == 0
	switch {
	case o.staged:
		nothing = false // an empty index is a clean commit
	case o.stdin:
		nothing = st.Bytes == 0
	case o.git == "" && o.image == "":
		nothing = walkSt.Files+st.Files == 0 // binaries and ignored files only
	}
	if nothing && found == 0 {
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

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "...")
	}
	return s
}

func newMaskCommand(g *globals) *cobra.Command {
	var noKnown bool
	cmd := &cobra.Command{
		Use:   "mask",
		Short: "Copy stdin to stdout with every secret replaced by ****",
		Long: `mask is a filter for any service's logs. It replaces with **** every current
and past value of every managed secret the loaded keys decrypt (also in their
base64, base64url, URL-encoded, hex and JSON-escaped forms) and everything the
scanner's rules detect (API keys, tokens, DSN passwords, password=...).

It works line by line in constant memory, on unbounded streams, and flushes
each line as soon as it is complete; a value that spans lines (a PEM key) is
held back until its last line and masked line by line. Values shorter than 8
bytes are not masked; mask warns once per such secret, by name. A line
carrying sa01-secrets:allow is masked all the same. On SIGINT or SIGTERM it
masks and writes what it holds, an incomplete last line included, and exits.`,
		Example: `  ./gateway 2>&1 | sa01-secrets mask
  docker logs -f gateway 2>&1 | sa01-secrets mask > gateway.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newKnownScanner(cmd.Context(), g, !noKnown)
			if err != nil {
				return err
			}
			if err := scan.NewMasker(s).StreamContext(cmd.Context(), g.stdin, g.stdout); err != nil {
				return withCode(ExitError, fmt.Errorf("mask: %w", err), "")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noKnown, "no-known", false, "do not load managed secret values; rules only")
	return cmd
}
