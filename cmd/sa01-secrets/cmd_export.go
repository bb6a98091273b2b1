package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/inject"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

func newImportCommand(g *globals) *cobra.Command {
	var from, target string
	var o secrets.ImportOptions
	cmd := verb("import --from-dotenv FILE | --from-target NAME [--prefix P]", "Import every variable of a .env file as secrets, in one transaction", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if target != "" && cmd.Flags().Changed("from-dotenv") {
			return usageError("", "--from-dotenv and --from-target: give one")
		} else if target != "" {
			return importTarget(cmd, g, target, o)
		}
		if from == "" {
			return usageError("sa01-secrets import --from-dotenv FILE", "--from-dotenv: required")
		}
		if err := secrets.ValidatePrefix(o.Prefix); err != nil {
			return err
		}
		f, err := dotenv.Read(from)
		if err != nil {
			return usageError("", "--from-dotenv: %v", err)
		}
		entries, err := f.Entries()
		if err != nil {
			return withCode(ExitUsage, err, "nothing was imported")
		}
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			n, err := b.Import(ctx, entries, o)
			if err != nil {
				return fmt.Errorf("%s: %w", from, err)
			}
			fmt.Fprintf(g.stdout, "imported %d secrets\n", n)
			return nil
		})
	})
	cmd.Flags().StringVar(&from, "from-dotenv", "", "the .env file to read")
	cmd.Flags().StringVar(&target, "from-target", "", "import the values of this target (decrypted with the keys), named prefix + key with ':' as '/'")
	cmd.Flags().StringVar(&o.Prefix, "prefix", "", "prepend P to every name")
	cmd.Flags().StringVar(&o.Class, "class", "", "class of the imported secrets")
	return cmd
}

func newExportCommand(g *globals) *cobra.Command {
	var prefix, format, output, service string
	cmd := verb("export [--prefix P | --service NAME] --format dotenv|json|env [--output FILE]", "Print the current values of secrets as dotenv, JSON or shell exports", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		switch format {
		case "dotenv", "json", "env":
		case "":
			return usageError("sa01-secrets export --format dotenv|json|env", "--format: required")
		default:
			return usageError("", "--format: want dotenv, json or env")
		}
		if service != "" {
			return exportService(cmd.Context(), g, service, format, output)
		}
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			vals, err := b.Export(ctx, prefix)
			if err != nil {
				return err
			}
			return secrets.ExportTo(g.stdout, output, vals, prefix, format)
		})
	})
	cmd.Flags().StringVar(&prefix, "prefix", "", "only names starting with P")
	cmd.Flags().StringVar(&format, "format", "", "dotenv, json or env")
	cmd.Flags().StringVar(&output, "output", "", "write to FILE (mode 0600) instead of stdout")
	cmd.Flags().StringVar(&service, "service", "", "export what 'run --service NAME' injects, named as run names them")
	return cmd
}

func newVerifyCommand(g *globals) *cobra.Command {
	var format string
	cmd := verb("verify [--format text|json]", "Check every stored version decrypts and is bound to its row (verify-encryption)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return withBackend(cmd, g, func(ctx context.Context, b secrets.Backend) error {
			rep, err := b.Verify(ctx)
			if err != nil {
				return err
			}
			return writeVerdict(g, format, rep, func(w io.Writer) { rep.WriteText(w) }, rep.OK, "")
		})
	})
	return withTargets(withFormat(cmd, &format, "text", "json"), g)
}

// withFormat adds --format to cmd, kept in format: one of want, the first
// the default, checked (checkFormat) before cmd runs.
func withFormat(cmd *cobra.Command, format *string, want ...string) *cobra.Command {
	last := len(want) - 1
	cmd.Flags().StringVar(format, "format", want[0], strings.Join(want[:last], ", ")+" or "+want[last])
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*format, want...); err != nil {
			return err
		}
		return inner(cmd, args)
	}
	return cmd
}

// writeVerdict writes the report of a check as writeReport does, and
// fails with msg (the report says why when it is "") unless ok.
func writeVerdict(g *globals, format string, v any, text func(io.Writer), ok bool, msg string) error {
	if err := writeReport(g, format, v, text); err != nil || ok {
		return err
	}
	return checkFailed{msg}
}

// exportService writes what run would inject for service, for export
// --service.
func exportService(ctx context.Context, g *globals, service, format, output string) error {
	src, err := openRunSource(ctx, g, service)
	if err != nil {
		return err
	}
	defer src.Close()
	vals, err := inject.Export(ctx, src, service, g.log())
	if err != nil {
		return remote.Fault(err, "list the granted secrets")
	}
	return secrets.ExportTo(g.stdout, output, vals, "", format)
}

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

// openRunSource opens what run and export --service read as service:
// the server or the local store (remote.RunSource).
func openRunSource(ctx context.Context, g *globals, service string) (inject.Session, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return remote.RunSource(ctx, cfg, service, func() (*open.Local, error) { return openLocal(ctx, g, "", nil) })
}

// runWithSecrets runs the command args with the secrets the service of
// o is granted (inject.Launch) and exits with its exit code.
func runWithSecrets(ctx context.Context, g *globals, o inject.Flags, args []string) error {
	opts, err := o.Options(inject.Options{Environ: os.Environ(), Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr, Log: g.log()})
	code := 0
	if err == nil {
		code, err = inject.Launch(ctx, func() (inject.Session, error) { return openRunSource(ctx, g, o.Service) }, args, opts, dropsOwnEnv)
	}
	var se *inject.StartError
	_, _, isCoded := coded(err)
	switch {
	case errors.As(err, &se):
		return withCode(se.Code(), err, "")
	case isCoded:
		return err // opening the source, the options, or the grants' env names
	case err != nil:
		return remote.Fault(err, "read the granted secrets")
	case code != 0:
		return &cliError{code: code, err: checkFailed{}} // the command's exit code, without a message
	}
	return nil
}
