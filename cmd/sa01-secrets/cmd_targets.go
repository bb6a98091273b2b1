package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/redact"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// The platform's own encrypted data (SA01_SECRETS_TARGETS_FILE): the
// `targets status` verb, and the targets' part of reencrypt, import,
// verify, status and key retire. The rules live in internal/targets and
// internal/rotate.

func targetCommands(g *globals) []*cobra.Command {
	t := &cobra.Command{
		Use:   "targets",
		Short: "The platform's own Fernet tokens in Redis and PostgreSQL (SA01_SECRETS_TARGETS_FILE)",
		Long: `targets reads the targets file (SA01_SECRETS_TARGETS_FILE): the Redis hashes,
Redis keys and PostgreSQL columns where the platform keeps Fernet tokens
under SA01_CRYPTO_FERNET_KEY. Connection strings are secrets in the store,
named by the file. 'reencrypt --targets' moves their tokens to the primary
key; 'key retire' refuses while a target holds a token under the key.`,
	}
	t.AddCommand(newTargetsStatusCommand(g))
	return []*cobra.Command{t}
}

// loadTargets reads the targets file SA01_SECRETS_TARGETS_FILE names.
func loadTargets(g *globals) (*targets.File, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if cfg.TargetsFile == "" {
		return nil, usageError("set "+config.EnvTargetsFile+" to the targets file (docs/rotation.md shows one)", "%s is not set", config.EnvTargetsFile)
	}
	f, err := targets.Load(cfg.TargetsFile)
	if err != nil {
		return nil, withCode(ExitUsage, err, "fix the targets file named by "+config.EnvTargetsFile)
	}
	return f, nil
}

// storeResolver reads a target's connection string from the store, as an
// audited read by the local operator.
func storeResolver(g *globals, e *local, ring *fernet.Ring) targets.Resolver {
	svc := secrets.New(e.st, ring, e.rec, time.Now)
	return func(ctx context.Context, name string) (sensitive.String, error) {
		v, err := svc.Get(ctx, name, 0)
		if err != nil {
			return sensitive.String{}, err
		}
		return v.Value, nil
	}
}

// targetsFor is the rotation verbs' view of the targets: nil without a
// targets file; a file that cannot be read makes every use fail (a retire
// is refused rather than done blind).
func targetsFor(g *globals, e *local) (*rotate.Targets, *fernet.Ring) {
	cfg, err := g.config()
	if err != nil || cfg.TargetsFile == "" {
		return nil, nil
	}
	f, err := targets.Load(cfg.TargetsFile)
	if err != nil {
		return &rotate.Targets{Err: err}, cfg.Keys
	}
	return &rotate.Targets{List: f.Targets, ResolveWith: func(ring *fernet.Ring) targets.Resolver {
		return storeResolver(g, e, ring)
	}}, cfg.Keys
}

// targetsRing is the ring of --env-file, or the environment's.
func targetsRing(g *globals, envFile string) (*fernet.Ring, error) {
	if envFile != "" {
		ef, err := dotenv.Read(envFile)
		if err != nil {
			return nil, rotationError(err, envFile)
		}
		ring, err := rotate.EnvRing(ef)
		if err != nil {
			return nil, rotationError(err, envFile)
		}
		return ring, nil
	}
	return requireKeys(g)
}

func newTargetsStatusCommand(g *globals) *cobra.Command {
	var format, envFile string
	cmd := &cobra.Command{
		Use:   "status [--format json]",
		Short: "Count each target's tokens by key ID, plaintext and unreadable values (exit 1 on any)",
		Long: `status reads every target of the targets file and reports, per target, the
tokens under each key ID, the values that are not Fernet tokens at all
(plaintext sitting where a token belongs), the tokens no loaded key opens,
and the oldest token's age. It exits 1 when a target holds plaintext or
unreadable tokens or cannot be read. It never prints a value.`,
		Example: `  sa01-secrets targets status
  sa01-secrets targets status --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			f, err := loadTargets(g)
			if err != nil {
				return err
			}
			ring, err := targetsRing(g, envFile)
			if err != nil {
				return err
			}
			e, err := openLocalWith(cmd.Context(), g, envFile)
			if err != nil {
				return err
			}
			defer e.Close()
			ts := &rotate.Targets{List: f.Targets, Resolve: storeResolver(g, e, ring)}
			reps, err := ts.Status(e.ctx, ring)
			if err != nil {
				return err
			}
			if format == "json" {
				if err := writeJSON(g.stdout, map[string]any{"primary_key_id": ring.Primary().ID(), "targets": reps}); err != nil {
					return err
				}
			} else {
				targets.WriteTable(g.stdout, reps, ring.Primary().ID())
			}
			for _, r := range reps {
				if !r.OK() {
					return checkFailed{}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().StringVar(&envFile, "env-file", "", "read the targets with the keys of this env file instead of the environment")
	return cmd
}

// hookTargets adds the targets' flags and checks to verbs defined
// elsewhere: reencrypt --targets/--target, import --from-target, verify
// --targets.
func hookTargets(root *cobra.Command, g *globals) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "reencrypt":
			hookReencrypt(c, g)
		case "import":
			hookImport(c, g)
		case "verify":
			hookVerify(c, g)
		}
	}
}

func hookReencrypt(cmd *cobra.Command, g *globals) {
	var all bool
	var names []string
	cmd.Flags().BoolVar(&all, "targets", false, "re-encrypt the tokens of every target of "+config.EnvTargetsFile+" (not the store)")
	cmd.Flags().StringArrayVar(&names, "target", nil, "re-encrypt the tokens of this target (repeatable)")
	cmd.Example += `
  sa01-secrets reencrypt --targets            # the platform's own tokens (SA01_SECRETS_TARGETS_FILE)
  sa01-secrets reencrypt --target gateway-redis`
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !all && len(names) == 0 {
			return inner(cmd, args)
		}
		if all && len(names) > 0 {
			return usageError("", "--targets and --target: give one")
		}
		for _, fl := range []string{"old-key-file", "old-key-env", "new-key-file", "new-key-env"} {
			if cmd.Flags().Changed(fl) {
				return usageError("", "--%s is for the store; the targets are re-encrypted to the primary of the environment or --env-file", fl)
			}
		}
		return reencryptTargets(cmd, g, names)
	}
}

func reencryptTargets(cmd *cobra.Command, g *globals, names []string) error {
	var f rotationFlags
	f.envFile, _ = cmd.Flags().GetString("env-file")
	f.batchSize, _ = cmd.Flags().GetInt("batch-size")
	f.wait, _ = cmd.Flags().GetDuration("wait")
	f.quiet, _ = cmd.Flags().GetBool("quiet")
	f.format, _ = cmd.Flags().GetString("format")
	if err := f.check(); err != nil {
		return err
	}
	if _, err := loadTargets(g); err != nil {
		return err
	}
	o := rotate.ReencryptOptions{EnvPath: f.envFile}
	if f.envFile == "" {
		ring, err := requireKeys(g)
		if err != nil {
			return err
		}
		o.Ring = ring
	}
	e, err := openLocalWith(cmd.Context(), g, f.envFile)
	if err != nil {
		return err
	}
	defer e.Close()
	r := rotator(g, e, &f)
	r.Progress = nil
	if !f.quiet {
		r.TargetProgress = newTargetProgress(g.stderr).update
	}
	res, err := r.ReencryptTargets(e.ctx, o, names)
	if err != nil && !errors.Is(err, rotate.ErrTargetFailures) {
		var te *targets.Error
		if errors.As(err, &te) {
			return withCode(ExitUsage, err, "")
		}
		return rotationError(err, f.envFile)
	}
	if f.format == "json" {
		if werr := writeJSON(g.stdout, res); werr != nil {
			return werr
		}
	} else {
		for _, t := range res.Results {
			fmt.Fprintf(g.stdout, "target %s: %d tokens re-encrypted to key %s", t.Target, t.MovedTotal(), res.Target)
			for _, id := range slices.Sorted(maps.Keys(t.Moved)) {
				fmt.Fprintf(g.stdout, " (%d from key %s)", t.Moved[id], id)
			}
			fmt.Fprintf(g.stdout, ", %d skipped (changed meanwhile, left to the application), %d plaintext, %d unreadable, in %.1fs\n",
				t.Skipped, t.Plaintext, t.Unreadable, t.Seconds)
		}
	}
	if errors.Is(err, rotate.ErrTargetFailures) {
		return withCode(ExitCheckFailed, err, "'sa01-secrets targets status' counts them; they were left as they are")
	}
	return nil
}

// targetProgress draws a re-encryption's progress through a target: a
// line redrawn in place on a terminal, otherwise at most once a second.
type targetProgress struct {
	w    io.Writer
	tty  bool
	last time.Time
}

func newTargetProgress(w io.Writer) *targetProgress {
	p := &targetProgress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *targetProgress) update(pr targets.Progress) {
	line := fmt.Sprintf("reencrypt: target %s: %d scanned, %d moved, %d skipped", pr.Target, pr.Scanned, pr.Moved, pr.Skipped)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		p.last = now
		fmt.Fprintln(p.w, line)
	}
}

func hookImport(cmd *cobra.Command, g *globals) {
	var from string
	cmd.Flags().StringVar(&from, "from-target", "", "import the values of this target (decrypted with the keys), named prefix + key with ':' as '/'")
	cmd.Use = "import --from-dotenv FILE | --from-target NAME [--prefix P]"
	cmd.Example += `
  sa01-secrets import --from-target gateway-redis --prefix llm/`
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if from == "" {
			return inner(cmd, args)
		}
		if cmd.Flags().Changed("from-dotenv") {
			return usageError("", "--from-dotenv and --from-target: give one")
		}
		if g.getenv(config.EnvSecretsAddr) != "" {
			return usageError("run it on the store's node without "+config.EnvSecretsAddr, "import --from-target decrypts the target with the keys, beside the store")
		}
		prefix, _ := cmd.Flags().GetString("prefix")
		class, _ := cmd.Flags().GetString("class")
		if err := secrets.ValidatePrefix(prefix); err != nil {
			return err
		}
		f, err := loadTargets(g)
		if err != nil {
			return err
		}
		ts, err := f.Select(from)
		if err != nil {
			return withCode(ExitNotFound, err, "")
		}
		ring, err := requireKeys(g)
		if err != nil {
			return err
		}
		e, err := openLocal(cmd.Context(), g)
		if err != nil {
			return err
		}
		defer e.Close()
		svc := secrets.New(e.st, ring, e.rec, time.Now)
		r := &targets.Runner{Ring: ring, Resolve: storeResolver(g, e, ring)}
		entries, err := r.Entries(e.ctx, ts[0], prefix)
		if err != nil {
			return withCode(ExitCheckFailed, err, "")
		}
		n, err := svc.Import(e.ctx, entries, secrets.ImportOptions{Prefix: prefix, Class: class})
		if err != nil {
			return fmt.Errorf("target %s: %w", from, err)
		}
		fmt.Fprintf(g.stdout, "imported %d secrets from target %s\n", n, from)
		return nil
	}
}

func hookVerify(cmd *cobra.Command, g *globals) {
	var withTargets bool
	cmd.Flags().BoolVar(&withTargets, "targets", false, "also check every target of "+config.EnvTargetsFile+" (plaintext, unreadable tokens)")
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if withTargets && g.getenv(config.EnvSecretsAddr) != "" {
			return usageError("run it on the store's node without "+config.EnvSecretsAddr, "verify --targets reads the targets with the keys, beside the store")
		}
		err := inner(cmd, args)
		if !withTargets {
			return err
		}
		var cf checkFailed
		if err != nil && !errors.As(err, &cf) {
			return err
		}

		f, terr := loadTargets(g)
		if terr != nil {
			return terr
		}
		ring, terr := requireKeys(g)
		if terr != nil {
			return terr
		}
		e, terr := openLocal(cmd.Context(), g)
		if terr != nil {
			return terr
		}
		defer e.Close()
		reps, terr := (&rotate.Targets{List: f.Targets, Resolve: storeResolver(g, e, ring)}).Status(e.ctx, ring)
		if terr != nil {
			return terr
		}
		out := g.stdout
		if format, _ := cmd.Flags().GetString("format"); format == "json" {
			out = g.stderr // stdout holds the store's JSON report
		}
		fmt.Fprintln(out)
		targets.WriteTable(out, reps, ring.Primary().ID())
		for _, r := range reps {
			if !r.OK() {
				return checkFailed{}
			}
		}
		return err
	}
}

// addTargetStatus adds the targets to status when a targets file is set.
func addTargetStatus(g *globals, e *local, rep *rotate.StatusReport, ring *fernet.Ring) error {
	ts, _ := targetsFor(g, e)
	if ts == nil {
		return nil
	}
	if ring == nil {
		rep.Overdue = append(rep.Overdue, "targets: not checked: no key loaded (set "+config.EnvFernetKey+" or pass --env-file)")
		rep.Compliant = false
		return nil
	}
	reps, err := ts.Status(e.ctx, ring)
	if err != nil {
		return withCode(ExitUsage, err, "fix the targets file named by "+config.EnvTargetsFile)
	}
	rep.AddTargets(reps)
	return nil
}

// watchTargets starts, when a targets file is set, the console's background
// check of the targets (targets.Watch: at once, then every `every`) and
// returns its Last; nil without a targets file. The connection strings are
// read through the server's service, each an audited read by serve. A
// file that cannot be read is shown on the keys page as the check's error.
func watchTargets(ctx context.Context, file string, svc *secrets.Service, ring *fernet.Ring, every time.Duration, log *slog.Logger) func() targets.Snapshot {
	if file == "" {
		return nil
	}
	f, err := targets.Load(file)
	if err != nil {
		log.Warn("the console cannot check the targets", "error", err)
		s := targets.Snapshot{At: time.Now(), Err: redact.MaskText(err.Error()), Every: every}
		return func() targets.Snapshot { return s }
	}
	resolve := func(ctx context.Context, name string) (sensitive.String, error) {
		v, err := svc.Get(audit.WithCaller(ctx, audit.Caller{Actor: "serve", Source: "local", Service: "targets-check"}), name, 0)
		if err != nil {
			return sensitive.String{}, err
		}
		return v.Value, nil
	}
	w := &targets.Watch{Runner: &targets.Runner{Ring: ring, Resolve: resolve}, List: f.Targets, Every: every}
	go w.Run(ctx)
	return w.Last
}
