package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
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
	// serving is set by serve: the server works on its store whatever
	// SA01_SECRETS_ADDR says.
	serving bool
}

// config loads and validates the SA01_* variables once; with --env-file,
// the Fernet keys are the file's (keysFromEnvFile).
func (g *globals) config() (*config.Config, error) {
	if g.cfg != nil {
		return g.cfg, nil
	}
	getenv := g.getenv
	if g.envFile != "" {
		var err error
		if getenv, err = keysFromEnvFile(g.envFile, g.getenv); err != nil {
			return nil, err
		}
	}
	c, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	g.cfg = c
	return c, nil
}

// keysFromEnvFile returns getenv with the Fernet keys
// (SA01_CRYPTO_FERNET_KEY, SA01_CRYPTO_FERNET_PREVIOUS_KEYS) answered by
// the env file at path, as the rotation verbs read them (rotate.EnvRing:
// the primary must be set there, each once, no _FILE indirection), and
// never by the environment: one ring, from one place. Every other setting
// still comes from the environment.
func keysFromEnvFile(path string, getenv func(string) string) (func(string) string, error) {
	ef, err := dotenv.Read(path)
	if err != nil {
		return nil, rotationError(err, path)
	}
	if _, err := rotate.EnvRing(ef); err != nil {
		return nil, rotationError(err, path)
	}
	return func(name string) string {
		switch name {
		case config.EnvFernetKey, config.EnvFernetPreviousKeys:
			v, _ := ef.Lookup(name)
			return v
		case config.EnvFernetKey + "_FILE", config.EnvFernetPreviousKeys + "_FILE":
			return ""
		}
		return getenv(name)
	}, nil
}

// log returns the logger: stderr, wrapped so that secrets are masked.
func (g *globals) log() *slog.Logger {
	if g.logger == nil {
		g.logger = newLogger(g.stderr, g.getenv)
	}
	return g.logger
}

// osUser names the local operator for audit events: "local:NAME", the
// operating-system user of local use without a server.
func osUser() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return identity.LocalActor(name)
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
			err = &cliError{code: ExitUsage, err: err, hint: "run 'sa01-secrets help' for usage"}
		}
		printError(stderr, err)
	}
	return exitCode(err)
}

// isCobraUsage recognises cobra's own flag and argument errors.
func isCobraUsage(err error) bool {
	var ce *cliError
	if errors.As(err, &ce) {
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

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "sa01-secrets",
		Short:         "Secrets manager for the SomaAgent01 platform",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version(),
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			g.verb = strings.TrimPrefix(cmd.CommandPath(), "sa01-secrets ")
		},
	}
	root.SetVersionTemplate("sa01-secrets {{.Version}}\n")
	root.PersistentFlags().StringVar(&g.envFile, "env-file", "",
		"read "+config.EnvFernetKey+" and "+config.EnvFernetPreviousKeys+" from this env file instead of the environment")
	root.AddCommand(
		newVersionCommand(g),
		newGenerateCommand(g),
		newEncryptCommand(g),
		newDecryptCommand(g),
		newConfigCommand(g),
	)
	root.AddCommand(secretCommands(g)...)
	root.AddCommand(keyCommands(g)...)
	root.AddCommand(serverCommands(g)...)
	root.AddCommand(identityCommands(g)...)
	root.AddCommand(auditCommands(g)...)
	root.AddCommand(scanCommands(g)...)
	root.AddCommand(targetCommands(g)...)
	root.AddCommand(policyCommands(g)...)
	hookTargets(root, g)
	refuseThroughServer(root, g)
	root.AddCommand(backupCommands(g)...)
	addHelp(root)
	return root
}
