package main

import (
	"embed"
	"strings"

	"github.com/spf13/cobra"
)

// helpFiles hold each verb's long help and examples, one file a command
// path (help/key-rotate.txt for "key rotate"), the examples after a line
// "Examples:". They are the text of --help, kept apart from the wiring.
//
//go:embed help/*.txt
var helpFiles embed.FS

// addHelp sets the long help and the examples of c and every command
// below it from helpFiles. A command with no file of its own takes the
// file of its path without the leading words ("key status" shares
// "status"'s).
func addHelp(c *cobra.Command) {
	words := strings.Fields(c.CommandPath())[1:]
	if len(words) == 0 {
		words = []string{"sa01-secrets"}
	}
	for i := range words {
		b, err := helpFiles.ReadFile("help/" + strings.Join(words[i:], "-") + ".txt")
		if err == nil {
			long, ex, _ := strings.Cut(strings.TrimSuffix(string(b), "\n"), "\n\nExamples:\n")
			c.Long, c.Example = long, ex
			break
		}
	}
	for _, s := range c.Commands() {
		addHelp(s)
	}
}
