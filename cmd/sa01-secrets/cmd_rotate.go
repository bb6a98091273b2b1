package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/spf13/cobra"
)

func newReencryptCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var oldFile, newFile, oldEnv, newEnv string
	cmd := verb("reencrypt [--env-file FILE | --old-key-file F [--new-key-file F]]", "Re-encrypt every version under an older key to the primary key", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if err := f.check(); err != nil {
			return err
		}
		if oldFile != "" && oldEnv != "" {
			return usageError("", "--old-key-file and --old-key-env: give one")
		}
		if newFile != "" && newEnv != "" {
			return usageError("", "--new-key-file and --new-key-env: give one")
		}
		explicit := oldFile != "" || oldEnv != ""
		if !explicit && (newFile != "" || newEnv != "") {
			return usageError("give the old key too: --old-key-file F or --old-key-env VAR", "--new-key-file/--new-key-env need --old-key-file or --old-key-env")
		}
		if explicit && f.envFile != "" {
			return usageError("", "--env-file and --old-key-*: give one")
		}
		o := rotate.ReencryptOptions{EnvPath: f.envFile}
		if explicit {
			ring, err := explicitRing(g, oldFile, oldEnv, newFile, newEnv)
			if err != nil {
				return err
			}
			o.Ring, o.PromoteTarget = ring, true
		} else if f.envFile == "" {
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
		res, err := rotator(g, e, &f).Reencrypt(e.ctx, o)
		if res != nil && len(res.Failures) > 0 {
			for _, fl := range res.Failures {
				fmt.Fprintf(g.stderr, "sa01-secrets: %s version %d (key %s): %s\n", fl.Name, fl.Version, fl.KeyID, fl.Reason)
			}
		}
		if err != nil && !errors.Is(err, rotate.ErrFailures) {
			return rotationError(err, f.envFile)
		}
		if werr := writeReport(g, f.format, res.JSON(), res.WriteText); werr != nil {
			return werr
		}
		return rotationError(err, f.envFile)
	})
	f.add(cmd, "", true)
	cmd.Flags().StringVar(&oldFile, "old-key-file", "", "file holding the old key")
	cmd.Flags().StringVar(&newFile, "new-key-file", "", "file holding the new key (default: "+config.EnvFernetKey+")")
	cmd.Flags().StringVar(&oldEnv, "old-key-env", "", "name of the environment variable holding the old key")
	cmd.Flags().StringVar(&newEnv, "new-key-env", "", "name of the environment variable holding the new key")
	return cmd
}

// explicitRing builds [new, old, other loaded keys] from the flags.
func explicitRing(g *globals, oldFile, oldEnv, newFile, newEnv string) (*fernet.Ring, error) {
	keyFrom := func(fileFlag, file, envFlag, env string) (*fernet.Key, error) {
		if file != "" {
			return readKeyFile(fileFlag, file)
		}
		if env == "" {
			return nil, nil
		}
		v := g.getenv(env)
		if strings.TrimSpace(v) == "" {
			return nil, usageError("export the variable, or use "+fileFlag, "%s: $%s is not set", envFlag, env)
		}
		k, err := config.ParseKeyVar(env, v)
		return k, withCode(ExitUsage, err, "")
	}
	old, err := keyFrom("--old-key-file", oldFile, "--old-key-env", oldEnv)
	if err != nil {
		return nil, err
	}
	nk, err := keyFrom("--new-key-file", newFile, "--new-key-env", newEnv)
	if err != nil {
		return nil, err
	}
	var loaded *fernet.Ring
	if cfg, err := g.config(); err == nil {
		loaded = cfg.Keys
	}
	ring, err := rotate.ExplicitRing(old, nk, loaded)
	if errors.Is(err, rotate.ErrNoNewKey) {
		return nil, usageError("give --new-key-file F, or set "+config.EnvFernetKey, "no new key")
	}
	return ring, withCode(ExitUsage, err, "")
}

func newStatusCommand(g *globals, use string) *cobra.Command {
	var format, envFile string
	cmd := verb(use, "Check the rotation schedule: key ages, retention deadlines, secrets due (exit 1 if overdue)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if format != "text" && format != "json" {
			return usageError("", "--format: want text or json")
		}
		write := func(rep *rotate.StatusReport, haveRing bool) error {
			if err := writeReport(g, format, rep, func(w io.Writer) { rep.WriteText(w, haveRing) }); err != nil {
				return err
			}
			if !rep.Compliant {
				return checkFailed{}
			}
			return nil
		}
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			if envFile != "" {
				return usageError("run it on the store's node without "+config.EnvSecretsAddr, "--env-file: the server judges the keys it loaded")
			}
			rep, err := b.Status(ctx)
			if err != nil {
				return err
			}
			return write(rep, true)
		}); served {
			return err
		}
		var ring *fernet.Ring
		if envFile != "" {
			ef, err := dotenv.Read(envFile)
			if err != nil {
				return rotationError(err, envFile)
			}
			if ring, err = rotate.EnvRing(ef); err != nil {
				return rotationError(err, envFile)
			}
		} else if cfg, err := g.config(); err == nil {
			ring = cfg.Keys
		} else {
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
		if err := addTargetStatus(g, e, rep, ring); err != nil {
			return err
		}
		return write(rep, ring != nil)
	})
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().StringVar(&envFile, "env-file", "", "judge the keys loaded from this env file instead of the environment")
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
			sec, _, err := b.History(ctx, name)
			if err != nil {
				return err
			}
			kind := gen
			if kind == "" {
				kind = secrets.GeneratedKind(sec.Class)
			}
			var val sensitive.String
			if kind != "" {
				val, err = secrets.Generate(kind, n)
			} else {
				val, err = readValue(g, name, fromFile)
			}
			if err != nil {
				return err
			}
			cur := sec.CurrentVersion
			v, err := b.Put(ctx, name, val, secrets.PutOptions{CAS: &cur})
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
