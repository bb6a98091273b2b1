package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/inject"
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

type runOptions struct {
	service  string
	only     []string
	pristine bool
	watch    bool
	interval time.Duration
}

func newRunCommand(g *globals) *cobra.Command {
	var o runOptions
	cmd := verb("run --service NAME [--only GLOB] [--pristine] [--watch] -- CMD [ARGS...]", "Run a command with the secrets a service is granted as environment variables", cobra.MinimumNArgs(1), func(cmd *cobra.Command, args []string) error {
		if o.service == "" {
			return usageError("name the service whose grants to inject, as --service gateway", "--service is required")
		}
		if cmd.ArgsLenAtDash() != 0 {
			return usageError("put the command after --, as: sa01-secrets run --service gateway -- ./app", "the command must follow --")
		}
		return runWithSecrets(cmd.Context(), g, o, args)
	})
	cmd.Flags().StringVar(&o.service, "service", "", "the service whose grants to inject")
	cmd.Flags().StringArrayVar(&o.only, "only", nil, "inject only secrets matching this glob (repeatable; '*' within a segment, '**' across)")
	cmd.Flags().BoolVar(&o.pristine, "pristine", false, "pass only the secrets and PATH/HOME, nothing inherited")
	cmd.Flags().BoolVar(&o.watch, "watch", false, "restart the command when a secret it uses gets a new version")
	cmd.Flags().DurationVar(&o.interval, "watch-interval", 10*time.Second, "how often --watch checks for new versions")
	return cmd
}

// runSource is where run's secrets come from; Close ends its session.
type runSource interface {
	inject.Source
	Close() error
}

// openRunSource picks the server (SA01_SECRETS_ADDR) or the local store
// under the local policy.
func openRunSource(ctx context.Context, g *globals, service string) (runSource, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if cfg.SecretsAddr != "" {
		return openRemote(ctx, g, service)
	}
	return openLocalRunSource(ctx, g, service)
}

func runWithSecrets(ctx context.Context, g *globals, o runOptions, args []string) error {
	io := inject.Options{Pristine: o.pristine, Environ: os.Environ(), Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr,
		Log: g.log(), Service: o.service}
	for _, s := range o.only {
		gl, err := policy.ParseGlob(s)
		if err != nil {
			return usageError("", "--only: %v", err)
		}
		io.Only = append(io.Only, gl)
	}
	if o.watch {
		if o.interval < time.Second {
			return usageError("", "--watch-interval: want at least 1s")
		}
		io.Watch = o.interval
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return withCode(127, fmt.Errorf("%s: command not found", args[0]), "")
	}
	src, err := openRunSource(ctx, g, o.service)
	if err != nil {
		return err
	}
	defer src.Close()
	code, err := inject.Run(ctx, src, path, args, io)
	var ee *inject.EnvError
	var se *inject.StartError
	switch {
	case errors.As(err, &ee):
		return withCode(ExitUsage, err, ee.Hint)
	case errors.As(err, &se):
		return withCode(126, err, "")
	case err != nil:
		return remoteErr(err, "read the granted secrets")
	case code != 0:
		return &cliError{code: code, err: checkFailed{}} // the command's exit code, without a message
	}
	return nil
}
