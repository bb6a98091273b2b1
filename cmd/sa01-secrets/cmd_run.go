package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/inject"
)

// dropsOwnEnv says that run removes its credential from its own
// environment once read (inject.DropCredentialEnv): main sets it, as the
// process environment is then the launcher's own; tests that call run in
// their own process keep theirs.
var dropsOwnEnv bool

func newRunCommand(g *globals) *cobra.Command {
	var o inject.Flags
	cmd := verb("run --service NAME [--only GLOB] [--pristine] [--watch] [--user USER] -- CMD [ARGS...]", "Run a command with the secrets a service is granted as environment variables", cobra.MinimumNArgs(1), func(cmd *cobra.Command, args []string) error {
		if o.Service == "" {
			return usageError("name the service whose grants to inject, as --service gateway", "--service is required")
		}
		if cmd.ArgsLenAtDash() != 0 {
			return usageError("put the command after --, as: sa01-secrets run --service gateway -- ./app", "the command must follow --")
		}
		return runWithSecrets(cmd.Context(), g, o, args)
	})
	cmd.Flags().StringVar(&o.Service, "service", "", "the service whose grants to inject")
	cmd.Flags().StringArrayVar(&o.Only, "only", nil, "inject only secrets matching this glob (repeatable; '*' within a segment, '**' across)")
	cmd.Flags().BoolVar(&o.Pristine, "pristine", false, "pass only the secrets and PATH/HOME, nothing inherited")
	cmd.Flags().BoolVar(&o.Watch, "watch", false, "restart the command when a secret it uses gets a new version")
	cmd.Flags().StringVar(&o.User, "user", "", "start the command as this user (name or uid; the launcher must be root), so it cannot read the launcher's credential")
	cmd.Flags().DurationVar(&o.Interval, "watch-interval", 10*time.Second, "how often --watch checks for new versions")
	return cmd
}

// runSource is where run's secrets come from; Close ends its session.
type runSource = inject.Session

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

// runWithSecrets runs the command args with the secrets the service of
// o is granted (inject.Launch) and exits with its exit code.
func runWithSecrets(ctx context.Context, g *globals, o inject.Flags, args []string) error {
	opts, err := o.Options(inject.Options{Environ: os.Environ(), Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr, Log: g.log()})
	code := 0
	if err == nil {
		code, err = inject.Launch(ctx, func() (inject.Session, error) { return openRunSource(ctx, g, o.Service) }, args, opts, dropsOwnEnv)
	}
	var oe *inject.OptionError
	var ee *inject.EnvError
	var se *inject.StartError
	var ce *cliError
	switch {
	case errors.As(err, &oe):
		return usageError(oe.Hint, "%s", oe.Msg)
	case errors.As(err, &ee):
		return withCode(ExitUsage, err, ee.Hint)
	case errors.As(err, &se):
		return withCode(se.Code(), err, "")
	case errors.As(err, &ce):
		return err // opening the source
	case err != nil:
		return remoteErr(err, "read the granted secrets")
	case code != 0:
		return &cliError{code: code, err: checkFailed{}} // the command's exit code, without a message
	}
	return nil
}
