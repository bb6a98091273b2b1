package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/backup"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// backupCommands are backup, restore and migrate (docs/backup.md). They
// run beside the store, on the store SA01_SECRETS_DB_DSN names.
func backupCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newBackupCommand(g), newRestoreCommand(g), newMigrateCommand(g)}
}

// besideStore refuses a verb that works on the store itself when a server
// address is set.
func besideStore(g *globals, verb string) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if cfg.SecretsAddr != "" {
		return usageError("run it on a host that reaches the store, with "+config.EnvSecretsAddr+" unset",
			"%s runs beside the store, not through the server", verb)
	}
	return nil
}

// jobStore opens the local store, its recorder and the backup options.
// Only restore (create) makes a missing store: backup and migrate need
// one that init made. A restore gets no recorder (nil): it opens one once
// the backup, and the audit key it holds, are loaded (recorderOf).
func jobStore(ctx context.Context, g *globals, create bool) (store.Store, audit.Recorder, backup.Options, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, nil, backup.Options{}, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, nil, backup.Options{}, err
	}
	st, err := openStoreFor(ctx, g, create)
	if err != nil {
		return nil, nil, backup.Options{}, err
	}
	var rec audit.Recorder
	if !create {
		if rec, err = openRecorder(ctx, g, st); err != nil {
			st.Close()
			return nil, nil, backup.Options{}, err
		}
	}
	return st, rec, backup.Options{Ring: cfg.Keys, Software: version(), Source: loc.driver(), Progress: progressTo(g.stderr)}, nil
}

// progressTo prints progress on w when it is a terminal.
func progressTo(w io.Writer) func(backup.Progress) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(p backup.Progress) {
		end := ""
		if p.Done {
			end = "\n"
		}
		fmt.Fprintf(w, "\r%-18s %12d rows  %8.1f MB%s", p.Section, p.Rows, float64(p.Bytes)/1e6, end)
	}
}

func newBackupCommand(g *globals) *cobra.Command {
	var output, check, format string
	cmd := &cobra.Command{
		Use:   "backup --output FILE | --verify FILE",
		Short: "Write a consistent backup of the whole store, or check one",
		Long: `backup writes the whole store as it is at one instant, while serve keeps
serving: every secret with every version's Fernet token, key ID and row
binding, key states, identities, credential and token records (hashes),
incidents, and the audit chain
with its checkpoints and publisher cursors. It holds no plaintext and no key.
The file is written 0600 and appears only once whole and audited; its
trailer carries a SHA-256 and a MAC under the primary key.

--verify reads a backup whole and checks it without restoring: framing,
checksums, MAC (when its key is loaded), row bindings under the loaded keys,
and the audit chain. The format is described in docs/backup.md.`,
		Example: `  sa01-secrets backup --output /var/backups/sa01/secrets-$(date +%F).sa01bk
  sa01-secrets backup --verify /var/backups/sa01/secrets-2026-12-01.sa01bk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (output == "") == (check == "") {
				return usageError("", "give exactly one of --output FILE and --verify FILE")
			}
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			if check != "" {
				return verifyBackup(cmd.Context(), g, check, format)
			}
			if err := besideStore(g, "backup"); err != nil {
				return err
			}
			ctx := audit.WithCaller(cmd.Context(), audit.Caller{Actor: osUser(), Source: "local"})
			st, rec, o, err := jobStore(ctx, g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			sum, err := backup.ToFile(ctx, st, rec, output, o)
			if err != nil {
				return err
			}
			return renderSummary(g, "backup written to "+output, sum, format)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the backup to FILE (0600, atomically)")
	cmd.Flags().StringVar(&check, "verify", "", "check the backup FILE without restoring it")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func verifyBackup(ctx context.Context, g *globals, path, format string) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	r, closeIn, err := openInput(g, path)
	if err != nil {
		return err
	}
	defer closeIn()
	sum, err := backup.Verify(ctx, r, backup.Options{Ring: cfg.Keys, Progress: progressTo(g.stderr)})
	if err != nil {
		return err
	}
	return renderSummary(g, "backup intact: "+path, sum, format)
}

// openInput opens FILE, or stdin for "-".
func openInput(g *globals, path string) (io.Reader, func(), error) {
	if path == "-" {
		return g.stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, withCode(ExitNotFound, err, "")
	}
	return f, func() { f.Close() }, nil
}

func renderSummary(g *globals, title string, sum backup.Summary, format string) error {
	if format == "json" {
		return writeJSON(g.stdout, sum)
	}
	w := g.stdout
	fmt.Fprintln(w, title)
	fmt.Fprintf(w, "  format %d, made %s by sa01-secrets %s from %s\n", sum.Format, sum.CreatedAt.Format("2006-01-02T15:04:05Z"), orDash(sum.Software), orDash(sum.Source))
	for _, s := range sum.Sections {
		note := ""
		if s.Unknown {
			note = "  (unknown to this binary: skipped"
			if s.Critical {
				note += "; a restore needs a newer sa01-secrets"
			}
			note += ")"
		}
		fmt.Fprintf(w, "  %-18s %10d rows%s\n", s.Name, s.Rows, note)
	}
	fmt.Fprintf(w, "  %d bytes, sha256 %s\n", sum.Bytes, sum.SHA256)
	switch {
	case sum.Authenticated:
		fmt.Fprintf(w, "  authenticated: MAC under key %s\n", sum.KeyID)
	case sum.KeyID != "":
		fmt.Fprintf(w, "  NOT authenticated: its MAC is under key %s, which is not loaded\n", sum.KeyID)
	default:
		fmt.Fprintln(w, "  NOT authenticated: written without a key")
	}
	if sum.BindingsChecked+sum.BindingsUnchecked > 0 {
		fmt.Fprintf(w, "  row bindings: %d checked, %d under keys not loaded\n", sum.BindingsChecked, sum.BindingsUnchecked)
	}
	if sum.Audit != nil {
		fmt.Fprintf(w, "  audit chain intact: %d events, head %s, %d checkpoints matched\n", sum.Audit.Events, sum.Audit.Head, sum.Audit.Checkpoints)
	}
	return nil
}

func renderReport(g *globals, title string, rep backup.Report, format string) error {
	if format == "json" {
		if err := writeJSON(g.stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "%s: %d rows\n", title, rep.Backup.Rows)
		if rep.Store != nil {
			fmt.Fprintf(g.stdout, "  verify: %d versions, %d passed, %d failed\n", rep.Store.Versions, rep.Store.Passed, rep.Store.Failed)
		}
		if rep.Audit.OK() {
			fmt.Fprintf(g.stdout, "  audit verify: chain intact, %d events, head %s\n", rep.Audit.Events, rep.Audit.Head)
		} else {
			fmt.Fprintf(g.stdout, "  audit verify: chain BROKEN: %s\n", rep.Audit.Problem.Error())
		}
	}
	if !rep.OK() {
		return checkFailed{msg: "the restored store does not verify: run 'sa01-secrets verify' and 'sa01-secrets audit verify' on it"}
	}
	return nil
}

func newRestoreCommand(g *globals) *cobra.Command {
	var input, format string
	cmd := &cobra.Command{
		Use:   "restore --input FILE",
		Short: "Restore a backup into an empty store",
		Long: `restore loads a backup into the store SA01_SECRETS_DB_DSN names, which must be empty
(a new SQLite file, or a PostgreSQL database with no sa01-secrets data), in
one transaction: nothing is left behind when it fails. It refuses a backup
it cannot authenticate (the key of its MAC must be loaded), a version under
a key that is not loaded or whose row binding does not hold, and a broken
audit chain. The restore is recorded as the next event of the restored
chain; then verify and audit verify run on the restored store.`,
		Example: `  SA01_SECRETS_DB_DSN=sqlite:///var/lib/sa01/secrets.db sa01-secrets restore --input secrets.sa01bk`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" {
				return usageError("", "--input FILE is required (- for stdin)")
			}
			if err := besideStore(g, "restore"); err != nil {
				return err
			}
			ctx := audit.WithCaller(cmd.Context(), audit.Caller{Actor: osUser(), Source: "local"})
			r, closeIn, err := openInput(g, input)
			if err != nil {
				return err
			}
			defer closeIn()
			st, _, o, err := jobStore(ctx, g, true)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := backup.Restore(ctx, r, st, recorderOf(g, st), o)
			if err != nil {
				return err
			}
			return renderReport(g, "restored "+input, rep, format)
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "the backup FILE to restore (- for stdin)")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func newMigrateCommand(g *globals) *cobra.Command {
	var to, toEnv, toFile, format string
	cmd := &cobra.Command{
		Use:   "migrate --to-env VAR | --to-file FILE | --to DSN",
		Short: "Move the whole store into another, empty one (SQLite to PostgreSQL)",
		Long: `migrate moves the store SA01_SECRETS_DB_DSN names into another, empty store, in one
command: a backup streamed straight into a restore, with every check a
restore makes. The destination's audit chain continues the source's, so
audit verify (and an anchor taken before) holds across the move. Stop every
writer of the source first: what it records after the snapshot stays there.

The destination DSN holds a password, so it never comes from the command
line: --to-env names a variable holding it, --to-file a file (mode 0600)
whose first line is it. --to takes a DSN only when it has no password
(sqlite:///path, or postgres:// with peer or certificate authentication).`,
		Example: `  TO_DSN='postgres://sa01:...@db:5432/sa01' sa01-secrets migrate --to-env TO_DSN
  sa01-secrets migrate --to-file /run/credentials/sa01-secrets/db_dsn`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dsn, err := migrateTarget(g, to, toEnv, toFile)
			if err != nil {
				return err
			}
			if err := besideStore(g, "migrate"); err != nil {
				return err
			}
			loc, err := locateDSN(g, dsn)
			if err != nil {
				return err
			}
			ctx := audit.WithCaller(cmd.Context(), audit.Caller{Actor: osUser(), Source: "local"})
			src, srcRec, o, err := jobStore(ctx, g, false)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := openStoreAt(ctx, loc)
			if err != nil {
				return err
			}
			defer dst.Close()
			rep, err := backup.Migrate(ctx, src, srcRec, dst, recorderOf(g, dst), loc.String(), o)
			if err != nil {
				return err
			}
			return renderReport(g, "migrated to "+loc.String(), rep, format)
		},
	}
	cmd.Flags().StringVar(&toEnv, "to-env", "", "read the destination DSN from this environment variable")
	cmd.Flags().StringVar(&toFile, "to-file", "", "read the destination DSN from the first line of this file")
	cmd.Flags().StringVar(&to, "to", "", "the destination DSN, only when it holds no password")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

// migrateTarget reads the destination DSN from exactly one of the flags.
func migrateTarget(g *globals, to, toEnv, toFile string) (string, error) {
	n := 0
	for _, s := range []string{to, toEnv, toFile} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return "", usageError("", "give exactly one of --to-env VAR, --to-file FILE and --to DSN")
	}
	var dsn string
	switch {
	case toEnv != "":
		if dsn = strings.TrimSpace(g.getenv(toEnv)); dsn == "" {
			return "", usageError("", "--to-env: %s is unset or empty", toEnv)
		}
	case toFile != "":
		f, err := os.Open(toFile)
		if err != nil {
			return "", withCode(ExitNotFound, fmt.Errorf("--to-file: %w", err), "")
		}
		defer f.Close()
		line, err := bufio.NewReader(io.LimitReader(f, 8192)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("--to-file: %w", err)
		}
		if dsn = strings.TrimSpace(line); dsn == "" {
			return "", usageError("", "--to-file: the file's first line is empty")
		}
	default:
		if hasPassword(to) {
			return "", usageError("put it in a variable and use --to-env VAR, or in a file and use --to-file FILE",
				"--to: the DSN holds a password, which must not appear on the command line")
		}
		dsn = to
	}
	return dsn, nil
}

// hasPassword reports whether a DSN carries a password (user:pass@ or a
// password parameter).
func hasPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return true // unparseable: assume the worst
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	for k := range u.Query() {
		if strings.EqualFold(k, "password") {
			return true
		}
	}
	return false
}

// orDash prints "-" for an empty field.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recorderOf opens st's recorder when called: after a restore or migrate
// loaded the audit key into it.
func recorderOf(g *globals, st store.Store) backup.OpenRecorder {
	return func(ctx context.Context) (audit.Recorder, error) { return openRecorder(ctx, g, st) }
}
