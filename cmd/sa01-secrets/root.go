package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/redact"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/scan"
)

// globals is what every verb shares: the process's streams and environment,
// the configuration (loaded once, on first use) and the logger.
type globals struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	// envFile is the root's --env-file: the keys come from it instead of
	// the environment (the rotation verbs have their own --env-file).
	envFile string

	cfg    *config.Config
	logger *slog.Logger

	// verb is the running command's path without the program's name
	// ("audit query"), for messages.
	verb string
}

// config loads and validates the SA01_* variables once; with --env-file,
// the Fernet keys are the file's (rotate.EnvKeys).
func (g *globals) config() (*config.Config, error) {
	if g.cfg != nil {
		return g.cfg, nil
	}
	getenv := g.getenv
	if g.envFile != "" {
		var err error
		if getenv, err = rotate.EnvKeys(g.envFile, g.getenv); err != nil {
			return nil, rotate.Fault(err)
		}
	}
	c, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	g.cfg = c
	return c, nil
}

// log returns the logger: stderr, wrapped so that secrets are masked.
func (g *globals) log() *slog.Logger {
	if g.logger == nil {
		g.logger = newLogger(g.stderr, g.getenv)
	}
	return g.logger
}

// newLogger builds the one logger of the process, on w, at
// SA01_SECRETS_LOG_LEVEL, in SA01_SECRETS_LOG_FORMAT. Its handler is wrapped in redact.Handler: attributes
// with secret names, DSN passwords and whatever the scanner's rules detect
// are written as ****.
func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	level, json := config.LogSettings(getenv)
	return redact.NewLogger(w, level, json, scan.NewMasker(scan.New(nil)))
}

// run is the whole program: tests call it directly. It returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		if isCobraUsage(err) {
			err = cobraUsage(err)
		}
		printError(stderr, err)
	}
	return exitCode(err)
}

// isCobraUsage recognises cobra's own flag and argument errors: any other
// error says its exit code itself (coded) or is a package's.
func isCobraUsage(err error) bool {
	if _, _, ok := coded(err); ok {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "required flag", "if any flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

var (
	strconvSyntax = regexp.MustCompile(`strconv\.Parse(Int|Uint|Float): parsing "[^"]*": invalid syntax`)
	strconvRange  = regexp.MustCompile(`strconv\.Parse(Int|Uint|Float): parsing "[^"]*": value out of range`)
)

// cobraUsage is a cobra usage error as a one-line error with a hint: its
// "Did you mean this?" list (an unknown verb) becomes the hint.
func cobraUsage(err error) error {
	msg, sugg, ok := strings.Cut(err.Error(), "\n\nDid you mean this?\n")
	if !ok {
		// A number flag's parse error says what the flag wants, not Go's
		// 'strconv.ParseInt: parsing "1h": invalid syntax'.
		if m := strconvSyntax.ReplaceAllString(msg, "want a whole number"); m != msg {
			err = errors.New(strconvRange.ReplaceAllString(m, "out of range"))
		} else if m := strconvRange.ReplaceAllString(msg, "out of range"); m != msg {
			err = errors.New(m)
		}
		return &cliError{code: ExitUsage, err: err, hint: "run 'sa01-secrets help' for usage"}
	}
	names := strings.Fields(sugg)
	for i, n := range names {
		names[i] = "'sa01-secrets " + n + "'"
	}
	return &cliError{code: ExitUsage, err: errors.New(msg), hint: "did you mean " + strings.Join(names, " or ") + "?"}
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "sa01-secrets",
		Short:         "Secrets manager for the SomaAgent01 platform",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.verb = strings.TrimPrefix(cmd.CommandPath(), "sa01-secrets ")
			if slices.Contains(besideStoreVerbs, g.verb) {
				return besideStore(g, g.verb)
			}
			return nil
		},
	}
	root.SetVersionTemplate("sa01-secrets {{.Version}}\n")
	root.PersistentFlags().StringVar(&g.envFile, "env-file", "",
		"read "+config.EnvFernetKey+" and "+config.EnvFernetPreviousKeys+" from this env file instead of the environment")
	for _, cs := range [][]*cobra.Command{
		{newVersionCommand(g), newGenerateCommand(g), newEncryptCommand(g), newDecryptCommand(g), newConfigCommand(g)},
		secretCommands(g), keyCommands(g), serverCommands(g), identityCommands(g), auditCommands(g),
		scanCommands(g), targetCommands(g), policyCommands(g),
	} {
		root.AddCommand(cs...)
	}
	root.AddCommand(backupCommands(g)...)
	addHelp(root)
	return root
}

// checkFormat refuses a --format outside want.
func checkFormat(format string, want ...string) error {
	if slices.Contains(want, format) {
		return nil
	}
	list := want[len(want)-1]
	if len(want) > 1 {
		list = strings.Join(want[:len(want)-1], ", ") + " or " + list
	}
	return usageError("", "--format: want %s", list)
}

// writeReport writes v as indented JSON in format json, else with text.
func writeReport(g *globals, format string, v any, text func(io.Writer)) error {
	if format == "json" {
		return writeJSON(g.stdout, v)
	}
	text(g.stdout)
	return nil
}

// verb returns a command: use, its one-line help, its positional
// arguments (nil: any) and what it runs. The long help and the examples
// come from help/ (addHelp).
func verb(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args, RunE: run}
}

// noSecretArgs is cobra.NoArgs for a verb whose argument is most likely
// a secret (what: the value, a credential): it is refused without being
// echoed, as put refuses one; cobra's "unknown command" error quotes it.
func noSecretArgs(what, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError(hint, "%s takes no argument (not echoed: if it was %s, it is now in shell history and the process list)", strings.TrimPrefix(cmd.CommandPath(), "sa01-secrets "), what)
		}
		return nil
	}
}

// group returns a command that only holds others. Alone it prints its
// help; a word that names none of its verbs is a usage error (cobra would
// print the help and exit 0, so that "generate tokn" looked like success).
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := verb(use, short, cobra.ArbitraryArgs, func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommand(cmd, args[0])
	})
	c.AddCommand(subs...)
	return c
}

// unknownCommand is the usage error of a word that names no verb of cmd,
// with the closest verbs as the hint.
func unknownCommand(cmd *cobra.Command, word string) error {
	hint := "run '" + cmd.CommandPath() + " --help' for its verbs"
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only for the root
	}
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		hint = "did you mean '" + cmd.CommandPath() + " " + strings.Join(s, "' or '"+cmd.CommandPath()+" ") + "'?"
	}
	return &cliError{code: ExitUsage, err: fmt.Errorf("unknown command %q for %q", word, cmd.CommandPath()), hint: hint}
}
