package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/prompt"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// withBackend runs fn over the backend of the secret verbs (onBackend):
// the server's, or the local store's service, which first seals the
// versions written without a state MAC.
func withBackend(cmd *cobra.Command, g *globals, fn func(ctx context.Context, b secrets.Backend) error) error {
	return onBackend(cmd, g, func(b *remote.Backend) secrets.Backend { return b }, secrets.FromLocal, func(ctx context.Context, b secrets.Backend) error {
		return remote.Fault(fn(ctx, b), cmd.Name()+" through the server")
	})
}

// secretCommands returns the verbs of this group.
func secretCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newPutCommand(g), newGetCommand(g), newListCommand(g), newHistoryCommand(g), newRollbackCommand(g),
		newSimpleCommand(g, deleteVerb), newSimpleCommand(g, undeleteVerb), newDestroyCommand(g),
		newImportCommand(g), newExportCommand(g), newVerifyCommand(g)}
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

// readValue reads a value from --from-file, a terminal prompt, or stdin
// (prompt.Value).
func readValue(g *globals, name, fromFile string) (sensitive.String, error) {
	b, err := prompt.Value(g.stdin, g.stderr, name, fromFile, "--from-file", secrets.MaxValueSize)
	return sensitive.FromBytes(b), err
}

func newPutCommand(g *globals) *cobra.Command {
	var o secrets.PutOptions
	var cas int
	var fromFile, period string
	cmd := verb("put NAME [--class C] [--description D] [--env NAME] [--cas N] [--from-file F]", "Store a new version of a secret (value from stdin, a file or a prompt)", oneName("put"), func(cmd *cobra.Command, args []string) error {
		c, err := casFlag(cmd, cas)
		if err != nil {
			return err
		}
		o.CAS = c
		if cmd.Flags().Changed("rotation-period") {
			p, err := secrets.ParsePeriod(period)
			if err != nil {
				return usageError("write days as 90d, or a duration such as 720h; 0 for none", "--rotation-period: not a period")
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
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			v, err := b.Put(ctx, args[0], val, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: version %d\n", args[0], v.Version)
			return nil
		})
	})
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
	cmd := verb("get NAME [--version N] [--format raw|json]", "Print a secret's value", oneName("get"), func(cmd *cobra.Command, args []string) error {
		if version < 0 {
			return usageError("", "--version: want 1 or more")
		}
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			v, err := b.Get(ctx, args[0], version)
			if err != nil {
				return err
			}
			if format == "raw" {
				_, err = io.WriteString(g.stdout, v.Value.Reveal())
				return err
			}
			return v.WriteJSON(g.stdout)
		})
	})
	cmd.Flags().IntVar(&version, "version", 0, "version to print (default: the current one)")
	return withFormat(cmd, &format, "raw", "json")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newRollbackCommand(g *globals) *cobra.Command {
	var to, cas int
	cmd := verb("rollback NAME --to N", "Write the value of version N again, as a new version", oneName("rollback"), func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("to") {
			return usageError("sa01-secrets rollback NAME --to N", "--to: required")
		}
		c, err := casFlag(cmd, cas)
		if err != nil {
			return err
		}
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			v, err := b.Rollback(ctx, args[0], to, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: version %d (the value of version %d)\n", args[0], v.Version, to)
			return nil
		})
	})
	cmd.Flags().IntVar(&to, "to", 0, "the version whose value to restore")
	cmd.Flags().IntVar(&cas, "cas", 0, "write only if the current version is N")
	return cmd
}

// simpleVerb is a verb on one secret NAME with no flag.
type simpleVerb struct {
	use, short string
	do         func(b secrets.Backend, ctx context.Context, name string) error
	done       string // printed after NAME on success; %[1]s is NAME
}

var deleteVerb = simpleVerb{
	use: "delete NAME", short: "Soft-delete a secret (undelete restores it)",
	do: secrets.Backend.Delete, done: "%[1]s: deleted (restore with 'sa01-secrets undelete %[1]s')\n",
}

var undeleteVerb = simpleVerb{
	use: "undelete NAME", short: "Restore a soft-deleted secret",
	do: secrets.Backend.Undelete, done: "%[1]s: restored\n",
}

func newSimpleCommand(g *globals, v simpleVerb) *cobra.Command {
	name, _, _ := strings.Cut(v.use, " ")
	return verb(v.use, v.short, oneName(name), func(cmd *cobra.Command, args []string) error {
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			if err := v.do(b, ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, v.done, args[0])
			return nil
		})
	})
}

func newDestroyCommand(g *globals) *cobra.Command {
	var version int
	cmd := verb("destroy NAME --version N", "Erase one version's encrypted value for good", oneName("destroy"), func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("version") || version < 1 {
			return usageError("sa01-secrets destroy NAME --version N", "--version: required, 1 or more")
		}
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			if err := b.Destroy(ctx, args[0], version); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: version %d destroyed\n", args[0], version)
			return nil
		})
	})
	cmd.Flags().IntVar(&version, "version", 0, "the version to destroy")
	return cmd
}

func newListCommand(g *globals) *cobra.Command {
	var prefix, format string
	var deleted bool
	cmd := verb("list [--prefix P] [--format table|json]", "List secrets: names, version, class, age, rotation due (never values)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			list, err := b.List(ctx, prefix, deleted)
			if err != nil {
				return err
			}
			return secrets.WriteList(g.stdout, list, format, time.Now())
		})
	})
	cmd.Flags().StringVar(&prefix, "prefix", "", "only names starting with P")
	cmd.Flags().BoolVar(&deleted, "deleted", false, "include soft-deleted secrets")
	return withFormat(cmd, &format, "table", "json")
}

func newHistoryCommand(g *globals) *cobra.Command {
	var format string
	cmd := verb("history NAME [--format table|json]", "List the versions of a secret (never values)", oneName("history"), func(cmd *cobra.Command, args []string) error {
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			sec, vs, err := b.History(ctx, args[0])
			if err != nil {
				return err
			}
			return secrets.WriteHistory(g.stdout, sec, vs, format)
		})
	})
	return withFormat(cmd, &format, "table", "json")
}
