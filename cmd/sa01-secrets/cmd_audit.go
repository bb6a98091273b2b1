package main

import "github.com/spf13/cobra"

// auditCommands returns the verbs of this group.
func auditCommands(g *globals) []*cobra.Command { return nil }
