package main

import "github.com/spf13/cobra"

// secretCommands returns the verbs of this group.
func secretCommands(g *globals) []*cobra.Command { return nil }
