package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// targetCommands is `targets status`: the platform's own encrypted data
// (SA01_SECRETS_TARGETS_FILE). Below, the targets' part of other verbs.
func targetCommands(g *globals) []*cobra.Command {
	var format, envFile string
	status := verb("status [--format json]", "Count each target's tokens by key ID, plaintext and unreadable values (exit 1 on any)", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return checkTargets(cmd, g, envFile, func(reps []targets.Report, primary string) error {
			return writeReport(g, format, map[string]any{"primary_key_id": primary, "targets": reps}, func(w io.Writer) { targets.WriteTable(w, reps, primary) })
		}, nil)
	})
	status.Flags().StringVar(&envFile, "env-file", "", "read the targets with the keys of this env file instead of the environment")
	withFormat(status, &format, "text", "json")
	return []*cobra.Command{cli.Group("targets", "The platform's own Fernet tokens in Redis and PostgreSQL (SA01_SECRETS_TARGETS_FILE)", status)}
}

// loadTargets reads the targets file SA01_SECRETS_TARGETS_FILE names
// (targets.Configured).
func loadTargets(g *globals) (*targets.File, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return targets.Configured(cfg.TargetsFile)
}

// openTargets opens what reading the targets takes: the targets file, the
// keys (of envFile, or the environment's) and the local store, from which
// the Runner reads the connection strings (audited reads).
func openTargets(cmd *cobra.Command, g *globals, envFile string) (*open.Local, *targets.Runner, *targets.File, error) {
	f, err := loadTargets(g)
	if err != nil {
		return nil, nil, nil, err
	}
	ring, err := ringOf(g, envFile, true)
	if err != nil {
		return nil, nil, nil, err
	}
	e, err := openLocal(cmd.Context(), g, envFile, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return e, &targets.Runner{Ring: ring, Resolve: targets.FromLocal(e, ring)}, f, nil
}

// checkTargets reads every target under the keys of envFile (or the
// environment's) and has write render the reports (primary: the key ID
// they are judged against); exit 1 when a target failed, else prior.
func checkTargets(cmd *cobra.Command, g *globals, envFile string, write func(reps []targets.Report, primary string) error, prior error) error {
	e, tr, f, err := openTargets(cmd, g, envFile)
	if err != nil {
		return err
	}
	defer e.Close()
	reps, err := tr.Status(e.Ctx, f.Targets)
	if err != nil {
		return err
	}
	if err := write(reps, tr.Ring.Primary().ID()); err != nil {
		return err
	}
	if !targets.AllOK(reps) {
		return checkFailed{}
	}
	return prior
}

// importTarget is import --from-target: the values of the target name,
// decrypted with the keys beside the store, imported as o says.
func importTarget(cmd *cobra.Command, g *globals, name string, o secrets.ImportOptions) error {
	if err := notViaServer(g, onStoreNode, "import --from-target decrypts the target with the keys, beside the store"); err != nil {
		return err
	}
	if err := secrets.ValidatePrefix(o.Prefix); err != nil {
		return err
	}
	e, tr, f, err := openTargets(cmd, g, "")
	if err != nil {
		return err
	}
	defer e.Close()
	n, err := tr.ImportLocal(e, f, name, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "imported %d secrets from target %s\n", n, name)
	return nil
}

// withTargets adds verify's --targets to cmd: the targets are checked
// after the store.
func withTargets(cmd *cobra.Command, g *globals) *cobra.Command {
	var withTargets bool
	cmd.Flags().BoolVar(&withTargets, "targets", false, "also check every target of "+config.EnvTargetsFile+" (plaintext, unreadable tokens)")
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !withTargets {
			return inner(cmd, args)
		}
		if err := notViaServer(g, onStoreNode, "verify --targets reads the targets with the keys, beside the store"); err != nil {
			return err
		}
		err := inner(cmd, args)
		var cf checkFailed
		if err != nil && !errors.As(err, &cf) {
			return err
		}
		return checkTargets(cmd, g, "", func(reps []targets.Report, primary string) error {
			out := g.stdout
			if format, _ := cmd.Flags().GetString("format"); format == "json" {
				out = g.stderr // stdout holds the store's JSON report
			}
			fmt.Fprintln(out)
			targets.WriteTable(out, reps, primary)
			return nil
		}, err)
	}
	return cmd
}
