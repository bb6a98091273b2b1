package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

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
		if err := f.check(); err != nil {
			return err
		}
		if toTargets {
			if _, err := loadTargets(g); err != nil {
				return err
			}
		}
		loaded, _ := ringOf(g, "", false)
		o, err := keys.Options(f.envFile, g.getenv, loaded, func() (*fernet.Ring, error) { return requireKeys(g) })
		if err != nil {
			return rotationError(err, f.envFile)
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

func newStatusCommand(g *globals, use string) *cobra.Command {
	return statusVerb(g, use, "Check the rotation schedule: key ages, retention deadlines, secrets due (exit 1 if overdue)", true, (*remote.Backend).Status,
		func(format string, rep *rotate.StatusReport, loaded bool) error {
			if err := writeReport(g, format, rep, func(w io.Writer) { rep.WriteText(w, loaded) }); err != nil {
				return err
			}
			if !rep.Compliant {
				return checkFailed{}
			}
			return nil
		})
}

func newKeyListCommand(g *globals) *cobra.Command {
	return statusVerb(g, "list", "List the key table with the number of versions under each key", false, (*remote.Backend).Keys,
		func(format string, rep *rotate.StatusReport, loaded bool) error {
			if format == "json" {
				return writeJSON(g.stdout, rep.Keys)
			}
			return rep.WriteKeyTable(g.stdout, loaded)
		})
}

// statusVerb is a verb over the rotation report: the server's (fromServer)
// when SA01_SECRETS_ADDR is set, else the local store's under the keys of
// the environment or, with envFlag, of --env-file. render writes it;
// loaded says whether keys were loaded to judge (the server's always are).
func statusVerb(g *globals, use, short string, envFlag bool, fromServer func(*remote.Backend, context.Context) (*rotate.StatusReport, error),
	render func(format string, rep *rotate.StatusReport, loaded bool) error) *cobra.Command {
	var format, envFile string
	cmd := verb(use, short, cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(format, "text", "json"); err != nil {
			return err
		}
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			if envFile != "" {
				return usageError(onStoreNode, "--env-file: the server judges the keys it loaded")
			}
			rep, err := fromServer(b, ctx)
			if err != nil {
				return err
			}
			return render(format, rep, true)
		}); served {
			return err
		}
		ring, err := ringOf(g, envFile, false)
		if err != nil {
			return err
		}
		e, err := openLocal(cmd.Context(), g)
		if err != nil {
			return err
		}
		defer e.Close()
		rep, err := rotate.Status(e.ctx, e.st, ring, time.Now())
		if err != nil {
			return err
		}
		if err := rep.CheckTargets(e.ctx, targetsFor(e), ring); err != nil {
			return withCode(ExitUsage, err, "fix the targets file named by "+config.EnvTargetsFile)
		}
		return render(format, rep, ring != nil)
	})
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	if envFlag {
		cmd.Flags().StringVar(&envFile, "env-file", "", "judge the keys loaded from this env file instead of the environment")
	}
	return cmd
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
		return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
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
