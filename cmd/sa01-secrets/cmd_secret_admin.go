package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

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
		return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
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
	do         func(b secretBackend, ctx context.Context, name string) error
	done       string // printed after NAME on success; %[1]s is NAME
}

var deleteVerb = simpleVerb{
	use: "delete NAME", short: "Soft-delete a secret (undelete restores it)",
	do: secretBackend.Delete, done: "%[1]s: deleted (restore with 'sa01-secrets undelete %[1]s')\n",
}

var undeleteVerb = simpleVerb{
	use: "undelete NAME", short: "Restore a soft-deleted secret",
	do: secretBackend.Undelete, done: "%[1]s: restored\n",
}

func newSimpleCommand(g *globals, v simpleVerb) *cobra.Command {
	name, _, _ := strings.Cut(v.use, " ")
	return verb(v.use, v.short, oneName(name), func(cmd *cobra.Command, args []string) error {
		return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
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
		return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
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
