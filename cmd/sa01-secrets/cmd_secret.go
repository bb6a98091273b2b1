package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// secretBackend is what the secret verbs work on: the local store through
// secrets.Service, or (with SA01_SECRETS_ADDR) a server.
type secretBackend interface {
	Put(ctx context.Context, name string, value sensitive.String, o secrets.PutOptions) (store.Version, error)
	Get(ctx context.Context, name string, version int) (secrets.Value, error)
	List(ctx context.Context, prefix string, includeDeleted bool) ([]store.Secret, error)
	History(ctx context.Context, name string) (store.Secret, []store.Version, error)
	Rollback(ctx context.Context, name string, to int, cas *int) (store.Version, error)
	Delete(ctx context.Context, name string) error
	Undelete(ctx context.Context, name string) error
	Destroy(ctx context.Context, name string, version int) error
	Import(ctx context.Context, entries []secrets.Entry, o secrets.ImportOptions) (int, error)
	Export(ctx context.Context, prefix string) ([]secrets.Value, error)
	Verify(ctx context.Context) (*secrets.Report, error)
	Close() error
}

// localBackend works on the store directly.
type localBackend struct {
	*secrets.Service
	st store.Store
}

func (b *localBackend) Close() error { return b.st.Close() }

// openLocalBackend opens the store and the audit recorder and returns the
// service over them, and ctx carrying the local operator as caller.
func openLocalBackend(ctx context.Context, g *globals) (context.Context, secretBackend, error) {
	cfg, err := g.config()
	if err != nil {
		return ctx, nil, err
	}
	st, err := openStore(ctx, g)
	if err != nil {
		return ctx, nil, err
	}
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		st.Close()
		return ctx, nil, err
	}
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
	return ctx, &localBackend{Service: secrets.New(st, cfg.Keys, rec, time.Now), st: st}, nil
}

// openBackend returns the backend the secret verbs use.
func openBackend(ctx context.Context, g *globals) (context.Context, secretBackend, error) {
	if remoteConfigured(g) {
		return openRemoteBackend(ctx, g)
	}
	return openLocalBackend(ctx, g)
}

// withBackend runs fn over the backend and closes it.
func withBackend(cmd *cobra.Command, g *globals, fn func(ctx context.Context, b secretBackend) error) error {
	ctx, b, err := openBackend(cmd.Context(), g)
	if err != nil {
		return err
	}
	err = fn(ctx, b)
	if cerr := b.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// secretCommands returns the verbs of this group.
func secretCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newPutCommand(g),
		newGetCommand(g),
		newListCommand(g),
		newHistoryCommand(g),
		newRollbackCommand(g),
		newDeleteCommand(g),
		newUndeleteCommand(g),
		newDestroyCommand(g),
		newImportCommand(g),
		newExportCommand(g),
		newVerifyCommand(g),
	}
}

// oneName checks a verb got exactly one NAME; a second argument to put is
// refused as a possible value.
func oneName(verb string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageError("sa01-secrets "+verb+" NAME", "missing the secret NAME")
		case len(args) > 1 && verb == "put":
			return usageError(`pipe the value in: printf %s "$VALUE" | sa01-secrets put NAME, or use --from-file FILE, or run on a terminal to be prompted`,
				"a value given as an argument is refused: it would be visible in shell history and the process list")
		case len(args) > 1:
			return usageError("sa01-secrets "+verb+" NAME", "want one secret NAME, got %d arguments", len(args))
		}
		return nil
	}
}

// casFlag returns the --cas value if it was given.
func casFlag(cmd *cobra.Command, n int) (*int, error) {
	if !cmd.Flags().Changed("cas") {
		return nil, nil
	}
	if n < 0 {
		return nil, usageError("", "--cas: want the current version (0: the secret must not exist)")
	}
	return &n, nil
}

// parsePeriod parses a rotation period: Go durations (720h) or days (90d).
func parsePeriod(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usageError("write days as 90d, or a duration such as 720h; 0 for none", "--rotation-period: not a period")
	}
	return d, nil
}

// readValue reads a value from --from-file, a terminal prompt, or stdin.
func readValue(g *globals, name, fromFile string) (sensitive.String, error) {
	limit := int64(secrets.MaxValueSize + 1)
	if fromFile != "" {
		f, err := os.Open(fromFile)
		if err != nil {
			return sensitive.String{}, usageError("", "--from-file: cannot open %s", fromFile)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, limit))
		if err != nil {
			return sensitive.String{}, fmt.Errorf("--from-file: reading %s: %w", fromFile, err)
		}
		return sensitive.FromBytes(b), nil
	}
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(g.stderr, "value for %s (not echoed): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		if err != nil {
			return sensitive.String{}, fmt.Errorf("reading the value from the terminal: %w", err)
		}
		return sensitive.FromBytes(b), nil
	}
	b, err := io.ReadAll(io.LimitReader(g.stdin, limit))
	if err != nil {
		return sensitive.String{}, fmt.Errorf("reading the value from stdin: %w", err)
	}
	return sensitive.FromBytes(b), nil
}

func newPutCommand(g *globals) *cobra.Command {
	var o secrets.PutOptions
	var cas int
	var fromFile, period string
	cmd := &cobra.Command{
		Use:   "put NAME [--class C] [--description D] [--env NAME] [--cas N] [--from-file F]",
		Short: "Store a new version of a secret (value from stdin, a file or a prompt)",
		Long: `put encrypts a value under SA01_CRYPTO_FERNET_KEY and stores it as the next
version of NAME, creating the secret if needed. The value is read exactly
(no newline is trimmed) from --from-file, from stdin, or from a hidden prompt
when stdin is a terminal. A value given as an argument is refused.

Names are path-like (llm/openai_api_key): letters, digits, '_', '.', '-'
and '/', at most 256 bytes. Values are 1 byte to 64 KiB.

Classes: encryption-key (rotation every 90 days), internal-token (180 days),
api-key, db-credential, config (default; no rotation unless
--rotation-period is given).

With --cas N the write happens only if the current version is N (0: only if
the secret does not exist yet); otherwise it exits with code 5.`,
		Example: `  printf %s "$OPENAI_API_KEY" | sa01-secrets put llm/openai_api_key --class api-key
  sa01-secrets put db/gateway/dsn --class db-credential --from-file dsn.txt
  sa01-secrets put app/flag --cas 3 < value.txt`,
		Args: oneName("put"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := casFlag(cmd, cas)
			if err != nil {
				return err
			}
			o.CAS = c
			if cmd.Flags().Changed("rotation-period") {
				p, err := parsePeriod(period)
				if err != nil {
					return err
				}
				o.RotationPeriod = &p
			}
			if err := secrets.ValidateName(args[0]); err != nil {
				return err
			}
			val, err := readValue(g, args[0], fromFile)
			if err != nil {
				return err
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				v, err := b.Put(ctx, args[0], val, o)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s: version %d\n", args[0], v.Version)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Class, "class", "", "encryption-key, api-key, internal-token, db-credential or config (new secrets: config)")
	f.StringVar(&o.Description, "description", "", "what the secret is for")
	f.StringVar(&o.Env, "env", "", "environment variable name to inject it as")
	f.StringVar(&o.Owner, "owner", "", "team or person responsible")
	f.StringVar(&period, "rotation-period", "", "rotation period, such as 90d or 720h (0: none)")
	f.IntVar(&cas, "cas", 0, "write only if the current version is N (0: only if new)")
	f.StringVar(&fromFile, "from-file", "", "read the value from this file")
	return cmd
}

func newGetCommand(g *globals) *cobra.Command {
	var version int
	var format string
	cmd := &cobra.Command{
		Use:   "get NAME [--version N] [--format raw|json]",
		Short: "Print a secret's value",
		Long: `get decrypts and prints the current version of NAME (or --version N), exactly,
with no newline added (--format raw), or as a JSON object with the value and
its metadata (--format json). A version marked compromised, destroyed, or a
deleted secret is refused. The access is audited before the value is
printed; if it cannot be recorded, nothing is printed.`,
		Example: `  sa01-secrets get llm/openai_api_key
  sa01-secrets get db/gateway/dsn --version 2 --format json`,
		Args: oneName("get"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "raw" && format != "json" {
				return usageError("", "--format: want raw or json")
			}
			if version < 0 {
				return usageError("", "--version: want 1 or more")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				v, err := b.Get(ctx, args[0], version)
				if err != nil {
					return err
				}
				if format == "raw" {
					_, err = io.WriteString(g.stdout, v.Value.Reveal())
					return err
				}
				return writeJSON(g.stdout, map[string]any{
					"name":       v.Secret.Name,
					"version":    v.Version.Version,
					"value":      v.Value.Reveal(),
					"class":      v.Secret.Class,
					"key_id":     v.Version.KeyID,
					"created_at": v.Version.CreatedAt,
				})
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version to print (default: the current one)")
	cmd.Flags().StringVar(&format, "format", "raw", "raw or json")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// secretJSON is one secret in list --format json: metadata, never a value.
type secretJSON struct {
	Name           string     `json:"name"`
	Version        int        `json:"version"`
	Class          string     `json:"class"`
	Description    string     `json:"description,omitempty"`
	Owner          string     `json:"owner,omitempty"`
	Env            string     `json:"env,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	RotationPeriod string     `json:"rotation_period,omitempty"`
	RotationDue    *time.Time `json:"rotation_due,omitempty"`
	Overdue        bool       `json:"overdue,omitempty"`
	Deleted        bool       `json:"deleted,omitempty"`
}

func toSecretJSON(s store.Secret, now time.Time) secretJSON {
	j := secretJSON{Name: s.Name, Version: s.CurrentVersion, Class: s.Class, Description: s.Description, Owner: s.Owner,
		Env: s.EnvName, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Deleted: s.Deleted()}
	if s.RotationPeriod > 0 {
		j.RotationPeriod = formatPeriod(s.RotationPeriod)
		due := s.UpdatedAt.Add(s.RotationPeriod)
		j.RotationDue = &due
		j.Overdue = now.After(due)
	}
	return j
}

func formatPeriod(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// age renders a duration compactly: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func newListCommand(g *globals) *cobra.Command {
	var prefix, format string
	var deleted bool
	cmd := &cobra.Command{
		Use:   "list [--prefix P] [--format table|json]",
		Short: "List secrets: names, version, class, age, rotation due (never values)",
		Example: `  sa01-secrets list
  sa01-secrets list --prefix llm/ --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageError("", "--format: want table or json")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				list, err := b.List(ctx, prefix, deleted)
				if err != nil {
					return err
				}
				now := time.Now()
				if format == "json" {
					out := make([]secretJSON, 0, len(list))
					for _, s := range list {
						out = append(out, toSecretJSON(s, now))
					}
					return writeJSON(g.stdout, out)
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tVERSION\tCLASS\tAGE\tROTATION DUE")
				for _, s := range list {
					due := "-"
					if s.RotationPeriod > 0 {
						d := s.UpdatedAt.Add(s.RotationPeriod)
						if now.After(d) {
							due = "overdue since " + d.Format("2006-01-02")
						} else {
							due = d.Format("2006-01-02")
						}
					}
					name := s.Name
					if s.Deleted() {
						name += " (deleted)"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", name, s.CurrentVersion, s.Class, age(now.Sub(s.UpdatedAt)), due)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only names starting with P")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().BoolVar(&deleted, "deleted", false, "include soft-deleted secrets")
	return cmd
}

// versionJSON is one version in history --format json.
type versionJSON struct {
	Version       int        `json:"version"`
	CreatedAt     time.Time  `json:"created_at"`
	Actor         string     `json:"actor,omitempty"`
	KeyID         string     `json:"key_id"`
	Current       bool       `json:"current"`
	DestroyedAt   *time.Time `json:"destroyed_at,omitempty"`
	CompromisedAt *time.Time `json:"compromised_at,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func newHistoryCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history NAME [--format table|json]",
		Short: "List the versions of a secret (never values)",
		Example: `  sa01-secrets history llm/openai_api_key
  sa01-secrets history llm/openai_api_key --format json | jq '.[].version'`,
		Args: oneName("history"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageError("", "--format: want table or json")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				sec, vs, err := b.History(ctx, args[0])
				if err != nil {
					return err
				}
				if format == "json" {
					out := make([]versionJSON, 0, len(vs))
					for _, v := range vs {
						out = append(out, versionJSON{Version: v.Version, CreatedAt: v.CreatedAt, Actor: v.Actor, KeyID: v.KeyID,
							Current: v.Version == sec.CurrentVersion, DestroyedAt: timePtr(v.DestroyedAt), CompromisedAt: timePtr(v.CompromisedAt)})
					}
					return writeJSON(g.stdout, out)
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tCREATED\tACTOR\tKEY\tSTATE")
				for _, v := range vs {
					state := "live"
					switch {
					case v.Destroyed():
						state = "destroyed"
					case v.Compromised():
						state = "compromised"
					}
					if v.Version == sec.CurrentVersion {
						state += ", current"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, v.CreatedAt.Format(time.RFC3339), v.Actor, v.KeyID, state)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newRollbackCommand(g *globals) *cobra.Command {
	var to, cas int
	cmd := &cobra.Command{
		Use:     "rollback NAME --to N",
		Short:   "Write the value of version N again, as a new version",
		Example: `  sa01-secrets rollback llm/openai_api_key --to 2`,
		Args:    oneName("rollback"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("to") {
				return usageError("sa01-secrets rollback NAME --to N", "--to: required")
			}
			c, err := casFlag(cmd, cas)
			if err != nil {
				return err
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				v, err := b.Rollback(ctx, args[0], to, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s: version %d (the value of version %d)\n", args[0], v.Version, to)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "the version whose value to restore")
	cmd.Flags().IntVar(&cas, "cas", 0, "write only if the current version is N")
	return cmd
}

func newDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Short:   "Soft-delete a secret (undelete restores it)",
		Example: `  sa01-secrets delete app/old_flag`,
		Args:    oneName("delete"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				if err := b.Delete(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s: deleted (restore with 'sa01-secrets undelete %s')\n", args[0], args[0])
				return nil
			})
		},
	}
}

func newUndeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "undelete NAME",
		Short:   "Restore a soft-deleted secret",
		Example: `  sa01-secrets undelete app/old_flag`,
		Args:    oneName("undelete"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				if err := b.Undelete(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s: restored\n", args[0])
				return nil
			})
		},
	}
}

func newDestroyCommand(g *globals) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:     "destroy NAME --version N",
		Short:   "Erase one version's encrypted value for good",
		Example: `  sa01-secrets destroy llm/openai_api_key --version 1`,
		Args:    oneName("destroy"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("version") || version < 1 {
				return usageError("sa01-secrets destroy NAME --version N", "--version: required, 1 or more")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				if err := b.Destroy(ctx, args[0], version); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s: version %d destroyed\n", args[0], version)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "the version to destroy")
	return cmd
}

func newImportCommand(g *globals) *cobra.Command {
	var from, prefix, class string
	cmd := &cobra.Command{
		Use:   "import --from-dotenv FILE [--prefix P]",
		Short: "Import every variable of a .env file as secrets, in one transaction",
		Long: `import reads KEY=VALUE lines (comments, "export ", single and double quotes,
multi-line quoted values) and stores each as a new version of the secret
prefix+KEY (case kept). All are written in one transaction: on any error
nothing is stored. Errors name the line, never a value.`,
		Example: `  sa01-secrets import --from-dotenv .env --prefix app/
  sa01-secrets import --from-dotenv prod.env --prefix prod/ --class api-key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageError("sa01-secrets import --from-dotenv FILE", "--from-dotenv: required")
			}
			if err := secrets.ValidatePrefix(prefix); err != nil {
				return err
			}
			f, err := os.Open(from)
			if err != nil {
				return usageError("", "--from-dotenv: cannot open %s", from)
			}
			entries, err := secrets.ParseDotenv(f)
			f.Close()
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("%s: %w", from, err), "nothing was imported")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				n, err := b.Import(ctx, entries, secrets.ImportOptions{Prefix: prefix, Class: class})
				if err != nil {
					return fmt.Errorf("%s: %w", from, err)
				}
				fmt.Fprintf(g.stdout, "imported %d secrets\n", n)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&from, "from-dotenv", "", "the .env file to read")
	cmd.Flags().StringVar(&prefix, "prefix", "", "prepend P to every name")
	cmd.Flags().StringVar(&class, "class", "", "class of the imported secrets")
	return cmd
}

// envVarName is the variable a secret exports as: its env name if set,
// else its name after prefix with other characters than letters, digits and
// '_' turned into '_'.
func envVarName(s store.Secret, prefix string) string {
	if s.EnvName != "" {
		return s.EnvName
	}
	n := []byte(strings.TrimPrefix(s.Name, prefix))
	for i, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			n[i] = '_'
		}
	}
	if len(n) > 0 && n[0] >= '0' && n[0] <= '9' {
		return "_" + string(n)
	}
	return string(n)
}

func newExportCommand(g *globals) *cobra.Command {
	var prefix, format, output, service string
	cmd := &cobra.Command{
		Use:   "export [--prefix P | --service NAME] --format dotenv|json|env [--output FILE]",
		Short: "Print the current values of secrets as dotenv, JSON or shell exports",
		Long: `export decrypts the current version of every secret under --prefix and
prints them: dotenv (VAR="value"), env (export VAR='value', for a shell) or
json ({"name": "value"} with full names). In dotenv and env the variable is
the secret's --env name if set, else its name without the prefix, with
characters other than letters, digits and '_' turned into '_'. Every value
is audited as an export. With --output the file is written 0600.`,
		Example: `  sa01-secrets export --prefix app/ --format dotenv --output app.env
  eval "$(sa01-secrets export --prefix app/ --format env)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "dotenv", "json", "env":
			case "":
				return usageError("sa01-secrets export --format dotenv|json|env", "--format: required")
			default:
				return usageError("", "--format: want dotenv, json or env")
			}
			if service != "" {
				return exportService(cmd.Context(), g, service, format, output)
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				vals, err := b.Export(ctx, prefix)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := renderExport(&buf, vals, prefix, format); err != nil {
					return err
				}
				if output == "" {
					_, err := g.stdout.Write(buf.Bytes())
					return err
				}
				return writeFile0600(output, buf.Bytes())
			})
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only names starting with P")
	cmd.Flags().StringVar(&format, "format", "", "dotenv, json or env")
	cmd.Flags().StringVar(&output, "output", "", "write to FILE (mode 0600) instead of stdout")
	cmd.Flags().StringVar(&service, "service", "", "export what 'run --service NAME' injects, named as run names them")
	return cmd
}

func renderExport(w io.Writer, vals []secrets.Value, prefix, format string) error {
	if format == "json" {
		m := make(map[string]string, len(vals))
		for _, v := range vals {
			m[v.Secret.Name] = v.Value.Reveal()
		}
		return writeJSON(w, m)
	}
	seen := map[string]string{}
	for _, v := range vals {
		name := envVarName(v.Secret, prefix)
		if other, dup := seen[name]; dup {
			return usageError("give one of them another variable name with 'put --env'",
				"secrets %s and %s both export as %s", other, v.Secret.Name, name)
		}
		seen[name] = v.Secret.Name
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i].Secret.Name < vals[j].Secret.Name })
	for _, v := range vals {
		name := envVarName(v.Secret, prefix)
		if format == "env" {
			fmt.Fprintf(w, "export %s=%s\n", name, secrets.QuoteShell(v.Value.Reveal()))
		} else {
			fmt.Fprintf(w, "%s=%s\n", name, secrets.QuoteDotenv(v.Value.Reveal()))
		}
	}
	return nil
}

// writeFile0600 writes data to path through a 0600 temporary file in the
// same directory, renamed into place.
func writeFile0600(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".sa01-export-*")
	if err != nil {
		return fmt.Errorf("--output: cannot create a file in %s", dir)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("--output: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("--output: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--output: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

func newVerifyCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "verify [--format text|json]",
		Short: "Check every stored version decrypts and is bound to its row (verify-encryption)",
		Long: `verify streams every stored version and checks that its token is a
well-formed Fernet token, that it decrypts under the loaded key its key ID
names, and that its row binding holds (the token was not moved from another
secret or version). It reports the count per key ID, versions under keys
that are not loaded or past their retention, and every failing row by name
and version. It prints no values. Exit 0 only when everything passes, 1
otherwise.`,
		Example: `  sa01-secrets verify
  sa01-secrets verify --format json | jq .failures`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("", "--format: want text or json")
			}
			return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
				rep, err := b.Verify(ctx)
				if err != nil {
					return err
				}
				if format == "json" {
					if err := writeJSON(g.stdout, rep); err != nil {
						return err
					}
				} else {
					printReport(g.stdout, rep)
				}
				if !rep.OK {
					return checkFailed{}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func printReport(w io.Writer, rep *secrets.Report) {
	fmt.Fprintf(w, "versions: %d, passed: %d, failed: %d\n", rep.Versions, rep.Passed, rep.Failed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tVERSIONS\tLOADED\tSTATE\tRETENTION")
	for _, k := range rep.Keys {
		loaded := "yes"
		if !k.Loaded {
			loaded = "NO"
		}
		ret := "-"
		if k.RetainUntil != nil {
			ret = "until " + k.RetainUntil.Format("2006-01-02")
			if k.PastRetention {
				ret = "PAST (" + k.RetainUntil.Format("2006-01-02") + ")"
			}
		}
		state := k.State
		if state == "" {
			state = "unrecorded"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", k.KeyID, k.Versions, loaded, state, ret)
	}
	tw.Flush()
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "FAIL %s version %d (key %s): %s\n", f.Name, f.Version, f.KeyID, f.Reason)
	}
	if rep.Truncated {
		fmt.Fprintf(w, "(only the first %d failures are listed)\n", len(rep.Failures))
	}
	if rep.OK {
		fmt.Fprintln(w, "ok: every version passes")
	} else {
		fmt.Fprintln(w, "verification FAILED")
	}
}
