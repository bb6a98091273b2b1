package main

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every verb has examples in its help, and every help file belongs to a
// command (a renamed verb does not leave its help behind).
func TestHelpFiles(t *testing.T) {
	root := newRootCommand(&globals{getenv: func(string) string { return "" }})
	paths := map[string]bool{"sa01-secrets": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		words := strings.Fields(c.CommandPath())[1:]
		paths[strings.Join(words, "-")] = true
		if c.Runnable() && !c.HasSubCommands() && c.Name() != "help" && c.Name() != "version" && !strings.HasPrefix(c.CommandPath(), "sa01-secrets completion") && c.Example == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	files, err := fs.Glob(helpFiles, "help/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("help files: %v %v", files, err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(strings.TrimPrefix(f, "help/"), ".txt"); !paths[name] {
			t.Errorf("%s names no command", f)
		}
	}
}
