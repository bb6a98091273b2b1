package main

import "github.com/spf13/cobra"

// keyCommands returns the verbs of this group.
func keyCommands(g *globals) []*cobra.Command { return nil }
