package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/backup"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// backupCommands are backup, restore and migrate (docs/backup.md). They
// run beside the store, on the store SA01_SECRETS_DB_DSN names; the jobs
// are internal/backup's.
func backupCommands(g *globals) []*cobra.Command {
	var output, check, input, format, restoreFormat, migrateFormat string
	var dest backup.Destination
	bk := verb("backup --output FILE | --verify FILE", "Write a consistent backup of the whole store, or check one", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if (output == "") == (check == "") {
			return usageError("", "give exactly one of --output FILE and --verify FILE")
		}
		if err := checkFormat(format, "text", "json"); err != nil {
			return err
		}
		if check != "" {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			return withInput(g, "--verify", check, func(r io.Reader) error {
				sum, err := backup.Verify(cmd.Context(), r, backup.Options{Ring: cfg.Keys, Progress: backup.ProgressTo(g.stderr)})
				if err != nil {
					return err
				}
				return writeReport(g, format, sum, func(w io.Writer) { sum.WriteText(w, "backup intact: "+check) })
			})
		}
		j, ctx, err := backupJob(cmd, g, "backup")
		if err != nil {
			return err
		}
		sum, err := j.Backup(ctx, output)
		if err != nil {
			return err
		}
		return writeReport(g, format, sum, func(w io.Writer) { sum.WriteText(w, "backup written to "+output) })
	})
	bk.Flags().StringVarP(&output, "output", "o", "", "write the backup to FILE (0600, atomically)")
	bk.Flags().StringVar(&check, "verify", "", "check the backup FILE without restoring it")
	bk.Flags().StringVar(&format, "format", "text", "text or json")

	rs := verb("restore --input FILE", "Restore a backup into an empty store", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if input == "" {
			return usageError("", "--input FILE is required (- for stdin)")
		}
		j, ctx, err := backupJob(cmd, g, "restore")
		if err != nil {
			return err
		}
		return withInput(g, "--input", input, func(r io.Reader) error {
			rep, err := j.Restore(ctx, r)
			return restored(g, "restored "+input, rep, err, restoreFormat)
		})
	})
	rs.Flags().StringVarP(&input, "input", "i", "", "the backup FILE to restore (- for stdin)")
	rs.Flags().StringVar(&restoreFormat, "format", "text", "text or json")

	mg := verb("migrate --to-env VAR | --to-file FILE | --to DSN", "Move the whole store into another, empty one (SQLite to PostgreSQL)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		dsn, err := dest.Resolve(g.getenv)
		if err != nil {
			return err
		}
		j, ctx, err := backupJob(cmd, g, "migrate")
		if err != nil {
			return err
		}
		loc, err := open.Locate(dsn, g.getenv)
		if err != nil {
			return err
		}
		rep, err := j.Migrate(ctx, func(ctx context.Context) (store.Store, error) { return open.At(ctx, loc) }, loc.String())
		return restored(g, "migrated to "+loc.String(), rep, err, migrateFormat)
	})
	mg.Flags().StringVar(&dest.Env, "to-env", "", "read the destination DSN from this environment variable")
	mg.Flags().StringVar(&dest.File, "to-file", "", "read the destination DSN from the first line of this file")
	mg.Flags().StringVar(&dest.DSN, "to", "", "the destination DSN, only when it holds no password")
	mg.Flags().StringVar(&migrateFormat, "format", "text", "text or json")
	return []*cobra.Command{bk, rs, mg}
}

// besideStore refuses a verb that works on the store itself when a server
// address is set.
func besideStore(g *globals, verb string) error {
	return notViaServer(g, "run it on a host that reaches the store, with "+config.EnvSecretsAddr+" unset", verb+" runs beside the store, not through the server")
}

// onStoreNode is the hint of a verb that decrypts with the keys beside the
// store, refused through the server.
const onStoreNode = "run it on the store's node without " + config.EnvSecretsAddr

// notViaServer refuses, with msg and hint, when SA01_SECRETS_ADDR is set.
func notViaServer(g *globals, hint, msg string) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if cfg.SecretsAddr != "" {
		return usageError(hint, "%s", msg)
	}
	return nil
}

// backupJob sets up a backup, restore or migrate of the local store, with
// the local operator as the caller of its audit events.
func backupJob(cmd *cobra.Command, g *globals, verb string) (*backup.Job, context.Context, error) {
	if err := besideStore(g, verb); err != nil {
		return nil, nil, err
	}
	cfg, _ := g.config() // besideStore loaded it
	loc, err := locateStore(g)
	if err != nil {
		return nil, nil, err
	}
	o := backup.Options{Ring: cfg.Keys, Software: version(), Progress: backup.ProgressTo(g.stderr)}
	return open.BackupJob(loc, cfg, recorderOptions(g, cfg), o), identity.AsLocalOperator(cmd.Context()), nil
}

// withInput runs fn on the backup at path (given with flag), or stdin for
// "-". A file that cannot be opened is a usage error naming the flag.
func withInput(g *globals, flag, path string, fn func(r io.Reader) error) error {
	r, err := backup.OpenInput(path, g.stdin)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("%s: %w", flag, err), "")
	}
	defer r.Close()
	return fn(r)
}

// restored renders a restore or migrate that ran (err nil): exit 1 when
// the store it filled does not verify.
func restored(g *globals, title string, rep backup.Report, err error, format string) error {
	if err != nil {
		return err
	}
	if err := writeReport(g, format, rep, func(w io.Writer) { rep.WriteText(w, title) }); err != nil {
		return err
	}
	if !rep.OK() {
		return checkFailed{msg: "the restored store does not verify: run 'sa01-secrets verify' and 'sa01-secrets audit verify' on it"}
	}
	return nil
}
