package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/identity/registry"
	"github.com/somaagent01/sa01-secrets/internal/remote"
)

// identityCommands returns init and identity.
func identityCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newInitCommand(g), newIdentityCommand(g)}
}

func newInitCommand(g *globals) *cobra.Command {
	var credFile string
	cmd := verb("init [--credential-file FILE]", "Create the store and its first operator, admin", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if err := notViaServer(g, "run init beside the store, with "+config.EnvSecretsAddr+" unset", "init makes a store; it does not run through a server"); err != nil {
			return err
		}
		ring, err := requireKeys(g)
		if err != nil {
			return err
		}
		if err := identity.PrepareFile(credFile, false); err != nil {
			return err
		}
		ctx := identity.AsLocalOperator(cmd.Context())
		st, err := openStore(ctx, g, true)
		if err != nil {
			return err
		}
		defer st.Close()
		is, err := registry.Init(ctx, st, ring.Primary().ID(), func() (audit.Recorder, error) { return openRecorder(ctx, g, st, nil) })
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "sa01-secrets: store ready under key %s; operator %s created\n", ring.Primary().ID(), is.Identity.Name)
		return showCredential(g, is, credFile)
	})
	cmd.Flags().StringVar(&credFile, "credential-file", "", "write admin's credential to this file (0600) instead of printing it")
	return cmd
}

func newIdentityCommand(g *globals) *cobra.Command {
	return cli.Group("identity", "Add, list, rotate and revoke identities (services and operators)",
		newIdentityAddCommand(g), newIdentityListCommand(g), newIdentityRotateCommand(g), newIdentityRevokeCommand(g))
}

func newIdentityAddCommand(g *globals) *cobra.Command {
	var svc, op bool
	var o identity.AddOptions
	var role, credFile string
	cmd := verb("add NAME --service | --operator --role ROLE [--credential-file FILE]", "Create an identity and print (or write) its credential, once",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			if svc == op {
				return usageError("give --service, or --operator --role ROLE", "an identity is a service or an operator")
			}
			o.Kind, o.Role = identity.Service, identity.Role(role)
			if op {
				o.Kind = identity.Operator
			}
			if err := identity.PrepareFile(credFile, false); err != nil {
				return err
			}
			return withIdentities(cmd, g, "add "+args[0], func(ctx context.Context, a registry.Registry) error {
				is, err := a.Add(ctx, args[0], o)
				if err != nil {
					return err
				}
				return showCredential(g, is, credFile)
			})
		})
	f := cmd.Flags()
	f.BoolVar(&svc, "service", false, "a service: the policy grants its access")
	f.BoolVar(&op, "operator", false, "a person, with --role")
	f.StringVar(&role, "role", "", "an operator's role: admin, auditor or responder")
	f.StringVar(&credFile, "credential-file", "", "write the credential to this file (0600) instead of printing it")
	f.DurationVar(&o.Lifetime, "lifetime", 0, "the credential's lifetime (default 180 days, 4320h)")
	return cmd
}

func newIdentityListCommand(g *globals) *cobra.Command {
	var format string
	cmd := verb("list [--format table|json]", "List identities and their credentials' expiry, never a credential",
		cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
			return withIdentities(cmd, g, "list identities", func(ctx context.Context, a registry.Registry) error {
				ids, err := a.Overview(ctx)
				if err != nil {
					return err
				}
				if format == "json" {
					return writeJSON(g.stdout, ids)
				}
				return registry.WriteTable(g.stdout, ids)
			})
		})
	return withFormat(cmd, &format, "table", "json")
}

func newIdentityRotateCommand(g *globals) *cobra.Command {
	var grace time.Duration
	var credFile string
	cmd := verb("rotate NAME [--grace 24h] [--credential-file FILE]", "Issue a new credential; the old one keeps working for --grace",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			if err := identity.PrepareFile(credFile, true); err != nil {
				return err
			}
			return withIdentities(cmd, g, "rotate "+args[0], func(ctx context.Context, a registry.Registry) error {
				is, err := a.Rotate(ctx, args[0], grace)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "sa01-secrets: the previous credentials of %s stop working at %s\n", args[0], time.Now().Add(grace).UTC().Format(time.RFC3339))
				return showCredential(g, is, credFile)
			})
		})
	cmd.Flags().DurationVar(&grace, "grace", identity.DefaultGrace, "how long the previous credentials keep working")
	cmd.Flags().StringVar(&credFile, "credential-file", "", "write the new credential to this file (0600) instead of printing it")
	return cmd
}

func newIdentityRevokeCommand(g *globals) *cobra.Command {
	return verb("revoke NAME", "Revoke an identity, every credential and every token of it, at once",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return withIdentities(cmd, g, "revoke "+args[0], func(ctx context.Context, a registry.Registry) error {
				n, err := a.Revoke(ctx, args[0])
				if err == nil {
					fmt.Fprintf(g.stdout, "revoked %s: every credential, and %d live token(s)\n", args[0], n)
				}
				return err
			})
		})
}

// withIdentities runs fn on the server's identities when
// SA01_SECRETS_ADDR is set, else on the local store's, audited under the
// local operator (onBackend); what names the action in a hint.
func withIdentities(cmd *cobra.Command, g *globals, what string, fn func(context.Context, registry.Registry) error) error {
	return onBackend(cmd, g, (*remote.Backend).Identities, registry.FromLocal, func(ctx context.Context, r registry.Registry) error {
		return identityErr(fn(ctx, r), what)
	})
}

// identityErr adds the exit codes and hints of the identity verbs
// (registry.Fault); what names the action for a server's error.
func identityErr(err error, what string) error {
	if errors.Is(err, client.ErrDenied) {
		return withCode(ExitDenied, err, "only an admin manages identities")
	}
	return remote.Fault(registry.Fault(err), what)
}

// showCredential writes a new credential to file or prints it once
// (identity.Issued.Deliver).
func showCredential(g *globals, is identity.Issued, file string) error {
	err := is.Deliver(g.stdout, g.stderr, file, config.EnvCredentialFile)
	if se := (*identity.SaveError)(nil); errors.As(err, &se) {
		return withCode(ExitError, err, "the credential was made but not saved: rotate it with 'sa01-secrets identity rotate "+is.Identity.Name+" --grace 0'")
	}
	return err
}
