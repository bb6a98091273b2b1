package main

import "github.com/spf13/cobra"

// serverCommands returns the verbs of this group.
func serverCommands(g *globals) []*cobra.Command { return nil }
