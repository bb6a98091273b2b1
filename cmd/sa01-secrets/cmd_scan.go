package main

import "github.com/spf13/cobra"

// scanCommands returns the verbs of this group.
func scanCommands(g *globals) []*cobra.Command { return nil }
