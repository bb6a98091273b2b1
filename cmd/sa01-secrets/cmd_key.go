package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// keyCommands returns the verbs of this group.
func keyCommands(g *globals) []*cobra.Command {
	key := group("key", "Manage the Fernet keys: list, rotate, stage, promote, retire, status",
		newKeyListCommand(g), newKeyRotateCommand(g), newKeyStageCommand(g), newKeyPromoteCommand(g), newKeyRetireCommand(g),
		newStatusCommand(g, "status"))
	return []*cobra.Command{key, newReencryptCommand(g), newStatusCommand(g, "status"), newRotateSecretCommand(g)}
}

// rotationFlags are shared by the verbs that change keys.
type rotationFlags struct {
	envFile   string
	batchSize int
	wait      time.Duration
	quiet     bool
	format    string
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

func (f *rotationFlags) check() error {
	if f.format != "text" && f.format != "json" {
		return usageError("", "--format: want text or json")
	}
	if f.batchSize < 0 || f.batchSize > 100000 {
		return usageError("", "--batch-size: want 1 to 100000")
	}
	return nil
}

// rotator returns the rotation engine over the local store.
func rotator(g *globals, l *local, f *rotationFlags) *rotate.Rotator {
	r := &rotate.Rotator{Store: l.st, Bind: secrets.Bind, NewBinder: func() rotate.Binder { return secrets.NewBinder() }, Recorder: l.rec, BatchSize: f.batchSize, Wait: f.wait}
	r.Targets, r.Keys = targetsFor(g, l)
	if !f.quiet {
		r.Progress = rotate.NewProgressBar(g.stderr).Update
	}
	return r
}

// runRotation runs one rotation verb: it checks the flags, opens the
// local store, calls do, and renders the report as JSON or with text;
// after, if not nil, runs last in both formats.
func runRotation[R any](cmd *cobra.Command, g *globals, f *rotationFlags, do func(context.Context, *rotate.Rotator) (R, error), text, after func(R)) error {
	if err := f.check(); err != nil {
		return err
	}
	l, err := openLocalWith(cmd.Context(), g, f.envFile)
	if err != nil {
		return err
	}
	defer l.Close()
	rep, err := do(l.ctx, rotator(g, l, f))
	if err != nil {
		return rotationError(err, f.envFile)
	}
	if f.format == "json" {
		err = writeJSON(g.stdout, rep)
	} else {
		text(rep)
	}
	if after != nil && err == nil {
		after(rep)
	}
	return err
}

func total(moved map[string]int64) (n int64) {
	for _, m := range moved {
		n += m
	}
	return n
}

// rotationError turns the rotation package's errors into a message, a hint
// and an exit code.
func rotationError(err error, envFile string) error {
	if err == nil {
		return nil
	}
	var ee *dotenv.FileError
	var km *rotate.KeyMismatchError
	var mk *rotate.MissingKeysError
	var le *rotate.LockedError
	var ke *rotate.KeyStateError
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return err
	case errors.Is(err, dotenv.ErrChanged):
		return withCode(ExitConflict, err, "something else edited the env file; run the command again")
	case errors.Is(err, rotate.ErrNoKeyInFile):
		return withCode(ExitUsage, err, "pass the env file the services load with --env-file FILE")
	case errors.As(err, &ee):
		return withCode(ExitUsage, err, "pass the env file the services load with --env-file FILE (default .env)")
	case errors.As(err, &km), errors.As(err, &mk):
		return withCode(ExitInvalidToken, err, "load the keys the data needs (see 'sa01-secrets key list'), or point --env-file at the right file; nothing was changed")
	case errors.As(err, &le):
		return withCode(ExitConflict, err, "wait for it to finish, or pass --wait 10m to wait for it")
	case errors.As(err, &ke) && ke.Forceable:
		return withCode(ExitConflict, err, "to retire it anyway (for a compromised key): --force --reason \"...\"")
	case errors.As(err, &ke):
		return withCode(ExitUsage, err, "'sa01-secrets key list' shows every key's state")
	case errors.Is(err, store.ErrNotFound):
		return withCode(ExitNotFound, err, "'sa01-secrets key list' shows the keys the store knows")
	case errors.Is(err, rotate.ErrFailures):
		return withCode(ExitInvalidToken, err, "the versions listed above were left as they were; 'sa01-secrets verify' shows why")
	}
	return err
}

func newKeyListCommand(g *globals) *cobra.Command {
	var format string
	cmd := verb("list", "List the key table with the number of versions under each key", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if format != "text" && format != "json" {
			return usageError("", "--format: want text or json")
		}
		if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error {
			rep, err := b.Keys(ctx)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(g.stdout, rep.Keys)
			}
			return rep.WriteKeyTable(g.stdout, true) // LOADED: by the server
		}); served {
			return err
		}
		e, err := openLocal(cmd.Context(), g)
		if err != nil {
			return err
		}
		defer e.Close()
		var ring *fernet.Ring
		if cfg, err := g.config(); err == nil {
			ring = cfg.Keys
		}
		rep, err := rotate.Status(e.ctx, e.st, ring, time.Now())
		if err != nil {
			return err
		}
		if err := addTargetStatus(g, e, rep, ring); err != nil {
			return err
		}
		if format == "json" {
			return writeJSON(g.stdout, rep.Keys)
		}
		return rep.WriteKeyTable(g.stdout, ring != nil)
	})
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func newKeyRotateCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var printKey bool
	cmd := verb("rotate [--env-file FILE]", "Rotate the Fernet key on one node: new key, re-encrypt everything, rewrite the env file", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.RotateReport, error) {
			return r.Rotate(ctx, f.envFile)
		}, func(rep *rotate.RotateReport) {
			fmt.Fprintf(g.stdout, "new primary key:  %s\n", rep.NewKey)
			if rep.OldKey != "" {
				fmt.Fprintf(g.stdout, "old primary key:  %s (decrypt-only until %s)\n", rep.OldKey, rep.RetainUntil.Format(time.RFC3339))
			}
			if rep.Resumed {
				fmt.Fprintln(g.stdout, "resumed an interrupted rotation")
			}
			for _, id := range rotate.SortedKeys(rep.Moved) {
				fmt.Fprintf(g.stdout, "re-encrypted:     %d versions from key %s\n", rep.Moved[id], id)
			}
			fmt.Fprintf(g.stdout, "total:            %d versions re-encrypted, %d skipped, in %s\n", total(rep.Moved), rep.Skipped, rep.Elapsed.Round(time.Millisecond))
			fmt.Fprintf(g.stdout, "env file:         %s (previous kept as %s.bak)\n", rep.EnvFile, rep.EnvFile)
			fmt.Fprintln(g.stderr, "hint: restart the services that load this env file")
		}, func(rep *rotate.RotateReport) {
			if printKey {
				fmt.Fprintln(g.stdout, rep.Key.Encode())
			}
		})
	})
	f.add(cmd, ".env", true)
	cmd.Flags().BoolVar(&printKey, "print-key", false, "also print the new key on stdout (it is a secret)")
	return cmd
}

// readKeyFile reads one Fernet key from a file that neither group nor
// others may read or write (safefile.ReadPrivate, as ssh wants of a
// private key); errors name the flag.
func readKeyFile(flag, path string) (*fernet.Key, error) {
	b, err := safefile.ReadPrivate(path, 4096)
	if errors.Is(err, safefile.ErrTooOpen) {
		return nil, usageError("chmod 600 "+path, "%s: %v", flag, err)
	}
	if err != nil {
		return nil, usageError("write the key to a file readable only by you (mode 0600)", "%s: cannot read %s", flag, path)
	}
	k, err := config.ParseKeyVar(flag, strings.TrimSpace(string(b)))
	if err != nil {
		return nil, withCode(ExitUsage, err, "the file must hold one key as 'sa01-secrets generate key' prints it")
	}
	return k, nil
}

func newKeyStageCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var keyFile string
	var printKey bool
	cmd := verb("stage [--env-file FILE] [--key-file K]", "Stage a new key: written into the env file as decrypt-only, recorded pending", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		var key *fernet.Key
		if keyFile != "" {
			k, err := readKeyFile("--key-file", keyFile)
			if err != nil {
				return err
			}
			key = k
		}
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.StageReport, error) {
			rep, err := r.Stage(ctx, f.envFile, key)
			if err == nil && printKey {
				fmt.Fprintln(g.stdout, rep.New.Encode())
			}
			return rep, err
		}, func(rep *rotate.StageReport) {
			msg := "staged key %s in %s (pending)\n"
			if rep.Already {
				msg = "key %s is already staged in %s\n"
			}
			fmt.Fprintf(g.stderr, msg, rep.Key, rep.EnvFile)
			fmt.Fprintln(g.stderr, "hint: "+stageHint(keyFile, printKey))
		}, nil)
	})
	f.add(cmd, ".env", false)
	cmd.Flags().StringVar(&keyFile, "key-file", "", "stage the key in this file instead of a new one")
	cmd.Flags().BoolVar(&printKey, "print-key", false, "print the staged key on stdout, to stage it on other nodes (it is a secret)")
	return cmd
}

// stageHint says how to stage the same key on the other nodes: with
// --key-file, from the file given or from what --print-key printed; a key
// neither given nor printed is printed by running stage again with
// --print-key (it prints the key already staged).
func stageHint(keyFile string, printed bool) string {
	const then = ", restart each, then run 'sa01-secrets key promote' on each"
	switch {
	case keyFile != "":
		return "stage the same key on every node with --key-file " + keyFile + then
	case printed:
		return "save the printed key to a 0600 file and stage it on every node with 'sa01-secrets key stage --key-file FILE'" + then
	}
	return "the key was not printed: run 'sa01-secrets key stage --print-key' here to print the staged key (a secret), save it to a 0600 file " +
		"and stage it on every other node with 'sa01-secrets key stage --key-file FILE'" + then
}

func newKeyPromoteCommand(g *globals) *cobra.Command {
	var f rotationFlags
	cmd := verb("promote [--env-file FILE]", "Make the staged key the primary: in the env file, and in the store", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.PromoteReport, error) {
			return r.Promote(ctx, f.envFile)
		}, func(rep *rotate.PromoteReport) {
			fmt.Fprintf(g.stdout, "primary key in %s: %s (was %s)\n", rep.EnvFile, rep.NewKey, rep.OldKey)
			if rep.Already {
				fmt.Fprintln(g.stdout, "the store already records it active")
			} else if !rep.RetainUntil.IsZero() {
				fmt.Fprintf(g.stdout, "key %s is decrypt-only until %s\n", rep.OldKey, rep.RetainUntil.Format(time.RFC3339))
			}
			fmt.Fprintln(g.stderr, "hint: restart this node's services; once every node is promoted, run 'sa01-secrets reencrypt'")
		}, nil)
	})
	f.add(cmd, ".env", false)
	return cmd
}

func newKeyRetireCommand(g *globals) *cobra.Command {
	var f rotationFlags
	var force bool
	var reason string
	cmd := &cobra.Command{
		Use:   "retire KEYID [--env-file FILE] [--force --reason R]",
		Short: "Retire a key after its 30 days: recorded retired, removed from the env file",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("sa01-secrets key retire KEYID (see 'sa01-secrets key list')", "want one KEYID")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if force && strings.TrimSpace(reason) == "" {
				return usageError("say why: --force --reason \"INC-42: key exposed\"", "--force needs --reason")
			}
			if !force && reason != "" {
				return usageError("", "--reason is only for --force")
			}
			return runRotation(cmd, g, &f, func(ctx context.Context, r *rotate.Rotator) (*rotate.RetireReport, error) {
				return r.Retire(ctx, args[0], f.envFile, force, reason)
			}, func(rep *rotate.RetireReport) {
				if rep.Already {
					fmt.Fprintf(g.stdout, "key %s was already retired\n", rep.Key)
				} else {
					fmt.Fprintf(g.stdout, "key %s retired\n", rep.Key)
				}
				if rep.RemovedFromEnv {
					fmt.Fprintf(g.stdout, "removed from %s\n", f.envFile)
				} else if f.envFile == "" {
					fmt.Fprintln(g.stderr, "hint: remove it from "+config.EnvFernetPreviousKeys+" on every node (key retire --env-file FILE does it)")
				}
				if rep.Versions > 0 {
					fmt.Fprintf(g.stderr, "sa01-secrets: warning: %d versions under key %s can no longer be decrypted once it is removed\n", rep.Versions, rep.Key)
				}
			}, nil)
		},
	}
	f.add(cmd, "", false)
	cmd.Flags().BoolVar(&force, "force", false, "retire even if versions use it or its retention has not passed")
	cmd.Flags().StringVar(&reason, "reason", "", "why --force is needed (recorded in the audit trail)")
	return cmd
}
