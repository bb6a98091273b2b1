package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// keyCommands returns the verbs of this group.
func keyCommands(g *globals) []*cobra.Command {
	const status = "Check the rotation schedule: key ages, retention deadlines, secrets due (exit 1 if overdue)"
	key := cli.Group("key", "Manage the Fernet keys: list, rotate, stage, promote, retire, status",
		statusVerb(g, "list", "List the key table with the number of versions under each key", true),
		newKeyRotateCommand(g), newKeyStageCommand(g), newKeyPromoteCommand(g), newKeyRetireCommand(g), statusVerb(g, "status", status, false))
	return []*cobra.Command{key, newReencryptCommand(g), statusVerb(g, "status", status, false), newRotateSecretCommand(g)}
}

// rotationFlags are shared by the verbs that change keys.
type rotationFlags struct {
	envFile   string
	batchSize int
	wait      time.Duration
	quiet     bool
	format    string
	// ring, when set, opens the store instead of the environment's keys:
	// reencrypt's --old-key-file and --new-key-file need no other key.
	ring *fernet.Ring
}

func (f *rotationFlags) add(cmd *cobra.Command, envDefault string, reencrypts bool) {
	cmd.Flags().StringVar(&f.envFile, "env-file", envDefault, "the env file holding "+config.EnvFernetKey+" and "+config.EnvFernetPreviousKeys)
	cmd.Flags().DurationVar(&f.wait, "wait", 0, "wait this long for another rotation to finish (default: refuse at once)")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	if reencrypts {
		cmd.Flags().IntVar(&f.batchSize, "batch-size", 1000, "versions re-encrypted per transaction")
		cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr")
	}
}

// runRotation runs one rotation verb: it checks the flags, opens the
// local store, calls do with the rotation engine over it, and renders the
// report as JSON or with text, a re-encryption's also when part of it
// failed (partial); after, if not nil, runs last in both formats.
func runRotation[R any](cmd *cobra.Command, g *globals, f *rotationFlags, do func(context.Context, *rotate.Rotator) (R, error), text, after func(R)) error {
	if err := checkFormat(f.format, "text", "json"); err != nil {
		return err
	}
	if f.batchSize < 0 || f.batchSize > 100000 {
		return usageError("", "--batch-size: want 1 to 100000")
	}
	l, err := openLocal(cmd.Context(), g, f.envFile, f.ring)
	if err != nil {
		return err
	}
	defer l.Close()
	r := rotate.Local(l, f.batchSize, f.wait)
	if !f.quiet {
		r.Progress, r.TargetProgress = rotate.NewProgressBar(g.stderr).Update, targets.ProgressLine(g.stderr)
	}
	rep, err := do(l.Ctx, r)
	if err != nil && !partial(rep, err) {
		return rotate.Fault(err)
	}
	if werr := writeReport(g, f.format, rep, func(io.Writer) { text(rep) }); werr != nil {
		return werr
	}
	if after != nil {
		after(rep)
	}
	return rotate.Fault(err)
}

// partial reports whether err leaves a re-encryption's report to render:
// some versions, or some targets' tokens, failed and the rest was done.
func partial(rep any, err error) bool {
	switch rep.(type) {
	case *rotate.Result:
		return errors.Is(err, rotate.ErrFailures)
	case *rotate.TargetsResult:
		return errors.Is(err, rotate.ErrTargetFailures)
	}
	return false
}

// ringOf is the ring of envFile when one is given, else the environment's:
// required, or nil when no key is loaded.
func ringOf(g *globals, envFile string, required bool) (*fernet.Ring, error) {
	if envFile != "" {
		ring, err := rotate.ReadEnvRing(envFile)
		return ring, rotate.Fault(err)
	}
	if required {
		return requireKeys(g)
	}
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return cfg.Keys, nil
}

func newKeyRotateCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var printKey bool
	cmd := verb("rotate [--env-file FILE]", "Rotate the Fernet key on one node: new key, re-encrypt everything, rewrite the env file", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.RotateReport, error) {
			return r.Rotate(ctx, f.envFile)
		}, func(rep *rotate.RotateReport) { rep.WriteText(g.stdout, g.stderr) }, func(rep *rotate.RotateReport) {
			if printKey {
				fmt.Fprintln(g.stdout, rep.Key.Encode())
			}
		})
	})
	f.add(cmd, ".env", true)
	cmd.Flags().BoolVar(&printKey, "print-key", false, "also print the new key on stdout (it is a secret)")
	return cmd
}

func newKeyStageCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var keyFile string
	var printKey bool
	cmd := verb("stage [--env-file FILE] [--key-file K]", "Stage a new key: written into the env file as decrypt-only, recorded pending", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		key, err := rotate.ReadKeyFile("--key-file", keyFile)
		if err != nil {
			return rotate.Fault(err)
		}
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.StageReport, error) {
			rep, err := r.Stage(ctx, f.envFile, key)
			if err == nil && printKey {
				fmt.Fprintln(g.stdout, rep.New.Encode())
			}
			return rep, err
		}, func(rep *rotate.StageReport) { rep.WriteText(g.stderr, keyFile, printKey) }, nil)
	})
	f.add(cmd, ".env", false)
	cmd.Flags().StringVar(&keyFile, "key-file", "", "stage the key in this file instead of a new one")
	cmd.Flags().BoolVar(&printKey, "print-key", false, "print the staged key on stdout, to stage it on other nodes (it is a secret)")
	return cmd
}

func newKeyPromoteCommand(g *globals) *cobra.Command {
	var f rotationFlags
	cmd := verb("promote [--env-file FILE]", "Make the staged key the primary: in the env file, and in the store", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.PromoteReport, error) {
			return r.Promote(ctx, f.envFile)
		}, func(rep *rotate.PromoteReport) { rep.WriteText(g.stdout, g.stderr) }, nil)
	})
	f.add(cmd, ".env", false)
	return cmd
}

func newKeyRetireCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var force bool
	var reason string
	oneKey := func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError("sa01-secrets key retire KEYID (see 'sa01-secrets key list')", "want one KEYID")
		}
		return nil
	}
	cmd := verb("retire KEYID [--env-file FILE] [--force --reason R]", "Retire a key after its 30 days: recorded retired, removed from the env file", oneKey, func(cmd *cobra.Command, args []string) error {
		if err := rotate.CheckForce(force, reason); err != nil {
			return rotate.Fault(err)
		}
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.RetireReport, error) {
			return r.Retire(ctx, args[0], f.envFile, force, reason)
		}, func(rep *rotate.RetireReport) { rep.WriteText(g.stdout, g.stderr, f.envFile) }, nil)
	})
	f.add(cmd, "", false)
	cmd.Flags().BoolVar(&force, "force", false, "retire even if versions use it or its retention has not passed")
	cmd.Flags().StringVar(&reason, "reason", "", "why --force is needed (recorded in the audit trail)")
	return cmd
}

func newReencryptCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var keys rotate.ExplicitKeys
	var all bool
	var names []string
	cmd := verb("reencrypt [--env-file FILE | --old-key-file F [--new-key-file F]]", "Re-encrypt every version under an older key to the primary key", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		toTargets := all || len(names) > 0
		if all && len(names) > 0 {
			return usageError("", "--targets and --target: give one")
		}
		if toTargets && keys.Given() {
			return usageError("", "%s is for the store; the targets are re-encrypted to the primary of the environment or --env-file", keys.Flag())
		}
		if toTargets {
			if _, err := loadTargets(g); err != nil {
				return err
			}
		}
		loaded, _ := ringOf(g, "", false)
		o, err := keys.Options(f.envFile, g.getenv, loaded, func() (*fernet.Ring, error) { return requireKeys(g) })
		if err != nil {
			return rotate.Fault(err)
		}
		if keys.Given() {
			f.ring = o.Ring
		}
		if toTargets {
			return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.TargetsResult, error) {
				return r.ReencryptTargets(ctx, o, names)
			}, func(res *rotate.TargetsResult) { res.WriteText(g.stdout) }, nil)
		}
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.Result, error) {
			res, err := r.Reencrypt(ctx, o)
			res.WriteFailures(g.stderr)
			return res, err
		}, func(res *rotate.Result) { res.WriteText(g.stdout) }, nil)
	})
	f.add(cmd, "", true)
	cmd.Flags().StringVar(&keys.OldFile, "old-key-file", "", "file holding the old key")
	cmd.Flags().StringVar(&keys.NewFile, "new-key-file", "", "file holding the new key (default: "+config.EnvFernetKey+")")
	cmd.Flags().StringVar(&keys.OldEnv, "old-key-env", "", "name of the environment variable holding the old key")
	cmd.Flags().StringVar(&keys.NewEnv, "new-key-env", "", "name of the environment variable holding the new key")
	cmd.Flags().BoolVar(&all, "targets", false, "re-encrypt the tokens of every target of "+config.EnvTargetsFile+" (not the store)")
	cmd.Flags().StringArrayVar(&names, "target", nil, "re-encrypt the tokens of this target (repeatable)")
	return cmd
}

// statusVerb is `status` (and `key status`), or with list `key list`:
// the rotation report of the server when SA01_SECRETS_ADDR is set, else of
// the local store under the keys of the environment or (status) of
// --env-file; loaded says whether keys were loaded to judge it.
func statusVerb(g *globals, use, short string, list bool) *cobra.Command {
	var format, envFile string
	render := func(rep *rotate.StatusReport, loaded bool) error {
		if list && format == "json" {
			return writeJSON(g.stdout, rep.Keys)
		} else if list {
			return rep.WriteKeyTable(g.stdout, loaded)
		}
		if err := writeReport(g, format, rep, func(w io.Writer) { rep.WriteText(w, loaded) }); err != nil {
			return err
		}
		if !rep.Compliant {
			return checkFailed{}
		}
		return nil
	}
	cmd := verb(use, short, cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			if envFile != "" {
				return usageError(onStoreNode, "--env-file: the server judges the keys it loaded")
			}
			fetch := b.Status
			if list {
				fetch = b.Keys
			}
			rep, err := fetch(ctx)
			if err != nil {
				return err
			}
			return render(rep, true)
		}); served {
			return err
		}
		ring, err := ringOf(g, envFile, false)
		if err != nil {
			return err
		}
		e, err := openLocal(cmd.Context(), g, envFile, nil) // the store opened with the keys it judges
		if err != nil {
			return err
		}
		defer e.Close()
		rep, err := rotate.LocalStatus(e, ring, time.Now())
		if err != nil {
			return err
		}
		return render(rep, ring != nil)
	})
	if !list {
		cmd.Flags().StringVar(&envFile, "env-file", "", "judge the keys loaded from this env file instead of the environment")
	}
	return withFormat(cmd, &format, "text", "json")
}

func newRotateSecretCommand(g *globals) *cobra.Command {
	var gen, fromFile string
	var n int
	cmd := verb("rotate NAME [--generate key|token|password] [--from-file F]", "Write a new version of one secret: generated by class, or read from stdin", oneName("rotate"), func(cmd *cobra.Command, args []string) error {
		name := args[0]
		switch gen {
		case "", "key", "token", "password":
		default:
			return usageError("", "--generate: want key, token or password")
		}
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			v, cur, kind, err := secrets.Rotate(ctx, b, name, gen, n, func() (sensitive.String, error) { return readValue(g, name, fromFile) })
			if err != nil {
				return err
			}
			how := "from stdin"
			if kind != "" {
				how = "generated (" + kind + ")"
			}
			fmt.Fprintf(g.stdout, "%s: version %d %s, replacing version %d\n", name, v.Version, how, cur)
			return nil
		})
	})
	cmd.Flags().StringVar(&gen, "generate", "", "generate the value: key (Fernet), token, or password")
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the new value from this file")
	cmd.Flags().IntVar(&n, "bytes", 32, "bytes of entropy of a generated token or password")
	return cmd
}
