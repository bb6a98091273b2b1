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
	user     string
}

// dropsOwnEnv says that run removes its credential from its own
// environment once read (inject.DropCredentialEnv): main sets it, as the
// process environment is then the launcher's own; tests that call run in
// their own process keep theirs.
var dropsOwnEnv bool

func newRunCommand(g *globals) *cobra.Command {
	var o runOptions
	cmd := verb("run --service NAME [--only GLOB] [--pristine] [--watch] [--user USER] -- CMD [ARGS...]", "Run a command with the secrets a service is granted as environment variables", cobra.MinimumNArgs(1), func(cmd *cobra.Command, args []string) error {
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
	cmd.Flags().StringVar(&o.user, "user", "", "start the command as this user (name or uid; the launcher must be root), so it cannot read the launcher's credential")
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
	if o.user != "" {
		u, err := inject.LookupUser(o.user)
		if err != nil {
			return usageError("run --user as root, or drop --user", "%v", err)
		}
		io.User = u
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return withCode(127, fmt.Errorf("%s: command not found", args[0]), "")
	}
	// Before the credential is read: from here the launcher's memory and
	// /proc/PID/environ are closed to the command it starts.
	if err := inject.Harden(); err != nil {
		return fmt.Errorf("run: cannot make the launcher non-dumpable: %v", err)
	}
	src, err := openRunSource(ctx, g, o.service)
	if err != nil {
		return err
	}
	defer src.Close()
	if dropsOwnEnv {
		inject.DropCredentialEnv()
	}
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
