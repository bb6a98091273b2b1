package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
)

// serverCommands returns the verbs of this group.
func serverCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newRunCommand(g)}
}

// openLocalRunSource serves run from the local store under the policy.
func openLocalRunSource(ctx context.Context, g *globals, cfg *config.Config, service string) (runSource, error) {
	return nil, errors.New("local store not available yet")
}
