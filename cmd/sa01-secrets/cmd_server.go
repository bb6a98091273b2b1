package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/serve"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// serverCommands returns the verbs of this group.
func serverCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newServeCommand(g), newRunCommand(g), newLoginCommand(g)}
}

// serveOptions are serve's flags (serve.Options).
type serveOptions struct {
	listen, tlsCert, tlsKey, uiListen string
	insecureListen, dev, noReadCache  bool
	noAudit                           bool // benchmark builds only (serve_bench.go): measure the cost of auditing
	targetsEvery                      time.Duration
	ready                             func(addr string) // tests: called once listening
	uiReady                           func(addr string) // tests: called once the console listens, before ready
}

func newServeCommand(g *globals) *cobra.Command {
	var o serveOptions
	cmd := verb("serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] | serve --dev", "Serve the HTTP API: each identity's login, expiring tokens, least-privilege reads", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return runServe(cmd.Context(), g, o)
	})
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "address to listen on (default: $SA01_SECRETS_LISTEN, else 127.0.0.1:8200)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.uiListen, "ui-listen", "", "address of the web console (/ui/) (default: $SA01_SECRETS_UI_LISTEN; unset: no console; with --dev, 127.0.0.1 and the port after --listen's)")
	f.DurationVar(&o.targetsEvery, "targets-every", targets.DefaultWatchInterval, "with a console and "+config.EnvTargetsFile+": how often a background check reads the targets for the keys page")
	f.BoolVar(&o.insecureListen, "insecure-listen", false, "allow plain HTTP on a non-loopback address (dangerous)")
	f.BoolVar(&o.dev, "dev", false, "throwaway dev server: temporary store, fresh key, admin and demo credentials, nothing kept")
	f.BoolVar(&o.noReadCache, "no-read-cache", false, "read every current version from the store (the cache serves only versions proven current when the read's audit event commits; see docs/server.md)")
	benchmarkFlags(f, &o)
	return cmd
}

// runServe serves with the configuration until ctx ends (serve.Run).
func runServe(ctx context.Context, g *globals, o serveOptions) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	return serve.Run(ctx, serve.Options{Config: cfg, Getenv: g.getenv, Listen: o.listen, TLSCert: o.tlsCert, TLSKey: o.tlsKey,
		InsecureListen: o.insecureListen, Dev: o.dev, NoAudit: o.noAudit, NoReadCache: o.noReadCache, UIListen: o.uiListen,
		TargetsEvery: o.targetsEvery, AuditBound: auditBound, Logger: g.log(), Stdout: g.stdout, Stderr: g.stderr,
		Ready: o.ready, UIReady: o.uiReady})
}

func newLoginCommand(g *globals) *cobra.Command {
	var credFile, name string
	cmd := verb("login [--credential-file FILE] [--identity NAME]", "Log in to the server with your credential and print a token", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if cfg.SecretsAddr == "" {
			return usageError("export "+config.EnvSecretsAddr+"=http://127.0.0.1:8200", config.EnvSecretsAddr+" is not set")
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

// localSource serves run from the local store under the local policy,
// audited as the service.
type localSource struct {
	*secrets.ServiceReader
	l *local
}

func (s localSource) Close() error { return s.l.Close() }

func openLocalRunSource(ctx context.Context, g *globals, service string) (runSource, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if cfg.PolicyFile == "" {
		return nil, usageError("set "+config.EnvPolicyFile+" to the policy, or "+config.EnvSecretsAddr+" to a server",
			"run needs a policy: %s is not set", config.EnvPolicyFile)
	}
	pol, err := policy.Load(cfg.PolicyFile)
	if err != nil {
		return nil, serve.PolicyError(err)
	}
	if !pol.HasService(service) {
		return nil, withCode(ExitDenied, fmt.Errorf("the policy names no service %q", service), "services in the policy: "+fmt.Sprint(pol.Services()))
	}
	ring, err := requireKeys(g)
	if err != nil {
		return nil, err
	}
	l, err := openLocal(ctx, g)
	if err != nil {
		return nil, err
	}
	return localSource{secrets.New(l.st, ring, l.rec, time.Now).As(pol, service, osUser()), l}, nil
}
