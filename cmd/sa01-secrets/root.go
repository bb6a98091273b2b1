package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/cli"
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
		if _, _, ok := coded(err); !ok { // any other error says its exit code itself, or is a package's
			err = cli.Usage(err)
		}
		printError(stderr, err)
	}
	return exitCode(err)
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
