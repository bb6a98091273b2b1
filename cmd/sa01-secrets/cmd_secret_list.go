package main

import (
	"context"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/spf13/cobra"
)

func newListCommand(g *globals) *cobra.Command {
	var prefix, format string
	var deleted bool
	cmd := verb("list [--prefix P] [--format table|json]", "List secrets: names, version, class, age, rotation due (never values)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
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
		return withBackend(cmd, g, func(ctx context.Context, b secretBackend) error {
			sec, vs, err := b.History(ctx, args[0])
			if err != nil {
				return err
			}
			return secrets.WriteHistory(g.stdout, sec, vs, format)
		})
	})
	return withFormat(cmd, &format, "table", "json")
}
