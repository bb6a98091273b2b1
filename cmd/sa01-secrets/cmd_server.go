package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/serve"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// serverCommands returns the verbs of this group.
func serverCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newServeCommand(g), newRunCommand(g), newLoginCommand(g)}
}

// serveOptions are serve's flags; runServe adds the configuration.
type serveOptions = serve.Options

func newServeCommand(g *globals) *cobra.Command {
	var o serveOptions
	cmd := verb("serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] | serve --dev", "Serve the HTTP API: each identity's login, expiring tokens, least-privilege reads", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return runServe(cmd.Context(), g, o)
	})
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "", "address to listen on (default: $SA01_SECRETS_LISTEN, else 127.0.0.1:8200)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.UIListen, "ui-listen", "", "address of the web console (/ui/) (default: $SA01_SECRETS_UI_LISTEN; unset: no console; with --dev, 127.0.0.1 and the port after --listen's)")
	f.DurationVar(&o.TargetsEvery, "targets-every", targets.DefaultWatchInterval, "with a console and "+config.EnvTargetsFile+": how often a background check reads the targets for the keys page")
	f.BoolVar(&o.InsecureListen, "insecure-listen", false, "allow plain HTTP on a non-loopback address (dangerous)")
	f.BoolVar(&o.Dev, "dev", false, "throwaway dev server: temporary store, fresh key, admin and demo credentials, nothing kept")
	f.BoolVar(&o.NoReadCache, "no-read-cache", false, "read every current version from the store (the cache serves only versions proven current when the read's audit event commits; see docs/server.md)")
	benchmarkFlags(f, &o)
	return cmd
}

// runServe serves with the configuration until ctx ends (serve.Run).
func runServe(ctx context.Context, g *globals, o serveOptions) (err error) {
	if o.Config, err = g.config(); err != nil {
		return err
	}
	o.Getenv, o.AuditBound, o.Logger, o.Stdout, o.Stderr = g.getenv, auditBound, g.log(), g.stdout, g.stderr
	return serve.Run(ctx, o)
}

func newLoginCommand(g *globals) *cobra.Command {
	var credFile, name string
	cmd := verb("login [--credential-file FILE] [--identity NAME]", "Log in to the server with your credential and print a token",
		cli.NoSecretArgs("a credential", "give the credential in a 0600 file: --credential-file FILE or "+config.EnvCredentialFile), func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			c, err := remote.Login(cmd.Context(), cfg, credFile, name)
			if err != nil {
				return err
			}
			c.Close() // the caller renews; this process does not
			_, err = fmt.Fprintln(g.stdout, c.Token())
			return err
		})
	cmd.Flags().StringVar(&credFile, "credential-file", "", "file holding your credential (default: $"+config.EnvCredentialFile+")")
	cmd.Flags().StringVar(&name, "identity", "", "the identity the credential must belong to")
	cmd.Flags().StringVar(&name, "service", "", "the older name of --identity")
	_ = cmd.Flags().MarkHidden("service")
	return cmd
}
