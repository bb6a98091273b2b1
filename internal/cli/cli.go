// Package cli holds the command line's own rules that are not a verb's:
// how a group of verbs answers a word that names none of them, how a
// cobra usage error reads, which verbs refuse an argument without echoing
// it, and how an error's line is printed to a terminal. Its errors are
// fault errors of class Usage, which the CLI turns into exit code 2.
package cli

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/scan"
)

// Group returns a command that only holds others. Alone it prints its
// help; a word that names none of its verbs is a usage error (cobra would
// print the help and exit 0, so that "generate tokn" looked like success).
func Group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return UnknownCommand(cmd, args[0])
	}}
	c.AddCommand(subs...)
	return c
}

// UnknownCommand is the usage error of a word that names no verb of cmd,
// with the closest verbs as the hint.
func UnknownCommand(cmd *cobra.Command, word string) error {
	hint := "run '" + cmd.CommandPath() + " --help' for its verbs"
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only for the root
	}
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		hint = "did you mean '" + cmd.CommandPath() + " " + strings.Join(s, "' or '"+cmd.CommandPath()+" ") + "'?"
	}
	return fault.New(fault.Usage, fmt.Errorf("unknown command %q for %q", word, cmd.CommandPath()), hint)
}

// NoSecretArgs is cobra.NoArgs for a verb whose argument is most likely
// a secret (what: the value, a credential): it is refused without being
// echoed, as put refuses one; cobra's "unknown command" error quotes it.
func NoSecretArgs(what, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			verb := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
			return fault.New(fault.Usage, fmt.Errorf("%s takes no argument (not echoed: if it was %s, it is now in shell history and the process list)", verb, what), hint)
		}
		return nil
	}
}

var (
	strconvSyntax = regexp.MustCompile(`strconv\.Parse(Int|Uint|Float): parsing "[^"]*": invalid syntax`)
	strconvRange  = regexp.MustCompile(`strconv\.Parse(Int|Uint|Float): parsing "[^"]*": value out of range`)
)

// cobraUsage are the marks of cobra's own flag and argument errors.
var cobraUsage = []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
	"invalid argument", "accepts ", "requires at least", "requires at most", "required flag", "if any flags in the group"}

// Usage is one of cobra's own usage errors (an unknown verb or flag, a
// flag's value that does not parse, a wrong number of arguments) as a
// one-line error with a hint: its "Did you mean this?" list becomes the
// hint, and a number flag's parse error says what the flag wants, not Go's
// 'strconv.ParseInt: parsing "1h": invalid syntax'. Any other error is
// returned as it is.
func Usage(err error) error {
	if !slices.ContainsFunc(cobraUsage, func(p string) bool { return strings.Contains(err.Error(), p) }) {
		return err
	}
	msg, sugg, ok := strings.Cut(err.Error(), "\n\nDid you mean this?\n")
	if !ok {
		m := strconvRange.ReplaceAllString(strconvSyntax.ReplaceAllString(msg, "want a whole number"), "out of range")
		if m != msg {
			err = errors.New(m)
		}
		return fault.New(fault.Usage, err, "run 'sa01-secrets help' for usage")
	}
	names := strings.Fields(sugg)
	for i, n := range names {
		names[i] = "'sa01-secrets " + n + "'"
	}
	return fault.New(fault.Usage, errors.New(msg), "did you mean "+strings.Join(names, " or ")+"?")
}

// MaxLine bounds a line of an error as printed.
const MaxLine = 2048

// Line is a line of an error as a terminal may show it: a server's
// message is its own choice (a hostile server's, or a proxy's), so every
// character a terminal would act on is escaped (scan.Printable) and a
// line is cut at MaxLine bytes.
func Line(s string) string {
	s = scan.Printable(s)
	if len(s) <= MaxLine {
		return s
	}
	cut := MaxLine
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}
