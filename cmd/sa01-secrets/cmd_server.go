package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// serverCommands returns the verbs of this group.
func serverCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newServeCommand(g), newRunCommand(g), newLoginCommand(g)}
}

type serveOptions struct {
	listen         string
	tlsCert        string
	tlsKey         string
	insecureListen bool
	dev            bool
	noAudit        bool // benchmark builds only (serve_bench.go): measure the cost of auditing
	noReadCache    bool
	ready          func(addr string) // tests: called once listening
}

// devPolicy is the policy of serve --dev.
const devPolicy = `# serve --dev: admin may do everything, demo may read demo/*.
services:
  admin: {read: ["**"], list: ["**"], write: ["**"]}
  demo:  {read: ["demo/*"]}
`

func newServeCommand(g *globals) *cobra.Command {
	var o serveOptions
	cmd := verb("serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] | serve --dev", "Serve the HTTP API: service login, expiring tokens, least-privilege reads", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return serve(cmd.Context(), g, o)
	})
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "address to listen on (default: $SA01_LISTEN, else 127.0.0.1:8200)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&o.insecureListen, "insecure-listen", false, "allow plain HTTP on a non-loopback address (dangerous)")
	f.BoolVar(&o.dev, "dev", false, "throwaway dev server: temporary store, fresh key and internal token, nothing kept")
	f.BoolVar(&o.noReadCache, "no-read-cache", false, "read every current version from the store (the cache serves only versions proven current when the read's audit event commits; see docs/server.md)")
	benchmarkFlags(f, &o)
	return cmd
}

// devSetup makes the temporary directory, key, token and policy of --dev
// and points the configuration at them.
func devSetup(g *globals) (dir string, err error) {
	cfg, err := g.config()
	if err != nil {
		return "", err
	}
	dir, err = os.MkdirTemp("", "sa01-secrets-dev-")
	if err != nil {
		return "", fmt.Errorf("--dev: cannot create a temporary directory: %w", err)
	}
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(devPolicy), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("--dev: cannot write the policy: %w", err)
	}
	ring, _ := fernet.NewRing(fernet.GenerateKey())
	c := *cfg
	c.Keys = ring
	c.InternalToken = sensitive.New(token.Random(32))
	c.DBDSN = sensitive.New("sqlite://" + filepath.Join(dir, "secrets.db"))
	c.PolicyFile = pol
	c.AuthRequired = true
	c.AuditFile = ""
	g.cfg = &c
	return dir, nil
}

func serve(ctx context.Context, g *globals, o serveOptions) error {
	log := g.log()
	defer server.TuneGC(os.LookupEnv)()
	var devDir string
	if o.dev {
		dir, err := devSetup(g)
		if err != nil {
			return err
		}
		devDir = dir
		defer os.RemoveAll(dir)
	}
	cfg, err := g.config()
	if err != nil {
		return err
	}
	listen := o.listen
	if listen == "" {
		listen = cfg.Listen
	}
	ring, err := requireKeys(g)
	if err != nil {
		return err
	}
	if !cfg.AuthRequired {
		log.Warn("authentication is disabled (" + config.EnvAuthRequired + "=false): any caller can read and write every secret")
	} else if cfg.InternalToken.IsZero() {
		log.Warn(config.EnvInternalToken + " is not set: no service can log in")
	}
	holder, err := policy.NewHolder(cfg.PolicyFile)
	if err != nil {
		return withCode(ExitUsage, err, "fix the policy file named by "+config.EnvPolicyFile)
	}
	if cfg.PolicyFile == "" && cfg.AuthRequired {
		log.Warn(config.EnvPolicyFile + " is not set: the policy is empty and every service is denied")
	}

	st, err := openStore(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		return err
	}
	if o.noAudit {
		log.Warn("AUDIT IS OFF (--benchmark-without-audit): accesses are not recorded; never run this way outside a benchmark")
		rec = audit.Discard{}
	}
	svc := secrets.New(st, ring, rec, time.Now)
	readCache := "on"
	switch {
	case o.noReadCache:
		readCache = "off (--no-read-cache)"
	case o.noAudit:
		readCache = "off (no audit event to prove a cached read current)"
	case !svc.CacheReads():
		readCache = "off (the store or the audit sinks cannot prove a cached read current)"
	}
	tokens := token.NewManager(st, token.Options{TTL: cfg.TokenTTL, MaxTTL: cfg.TokenMaxTTL})
	checks := map[string]func(context.Context) error{
		"store": func(ctx context.Context) error {
			_, err := st.Secret(ctx, "sa01-health-check")
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		},
	}
	if !o.noAudit {
		checks["audit"] = func(ctx context.Context) error {
			_, err := st.AuditHead(ctx)
			return err
		}
	}
	if !o.noAudit {
		// Ships the audit table to Kafka, when configured.
		_, stopPublisher, err := startAuditPublisher(ctx, g, st, rec)
		if err != nil {
			return err
		}
		defer stopPublisher()
	}
	srv := server.New(server.Deps{
		Secrets:       svc,
		Tokens:        tokens,
		Policy:        holder,
		Audit:         rec,
		Logger:        log,
		AuthRequired:  cfg.AuthRequired,
		InternalToken: cfg.InternalToken,
		Checks:        checks,
		KeyAges:       rotate.KeyAges(st, ring),
	})

	ln, addr, err := server.Listen(server.ListenOptions{Addr: listen, TLSCert: o.tlsCert, TLSKey: o.tlsKey,
		InsecureListen: o.insecureListen, Logger: log, Warn: g.stderr})
	var ue *server.UsageError
	var le *server.ListenError
	switch {
	case errors.As(err, &ue):
		return usageError(ue.Hint, "%s", ue.Msg)
	case errors.As(err, &le):
		return withCode(ExitUnavailable, err, "pick another --listen address")
	}
	log.Info("serving", "addr", addr, "auth_required", cfg.AuthRequired, "policy", orNone(cfg.PolicyFile), "store", storeDescription(cfg), "key_id", ring.Primary().ID(), "read_cache", readCache)
	if o.dev {
		printDevBanner(g.stdout, addr, cfg.InternalToken, devDir)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go server.Maintain(bg, hup, holder, tokens, rec, log)
	if o.ready != nil {
		o.ready(addr)
	}
	if err := server.Serve(ctx, ln, srv, log); err != nil {
		return withCode(ExitUnavailable, err, "")
	}
	if o.dev && ctx.Err() != nil {
		fmt.Fprintln(g.stderr, "sa01-secrets: dev server stopped; its data is gone")
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func storeDescription(cfg *config.Config) string {
	if cfg.DBDSN.IsZero() {
		return "default SQLite file"
	}
	return config.MaskDSN(cfg.DBDSN.Reveal())
}

func printDevBanner(w io.Writer, addr string, internal sensitive.String, dir string) {
	tok := internal.Reveal()
	fmt.Fprintf(w, `sa01-secrets dev server: a throwaway store for trying things out.
It keeps NOTHING: the store, the key and the token below vanish on exit.
Never put a real secret in it.

  Address:         %s
  Internal token:  %s   (valid for this run only)
  Store:           %s (removed on exit)
  Policy:          admin may do everything; demo may read demo/*

Try, in another shell (from a checkout without the binary installed, write
"go run ./cmd/sa01-secrets" for "sa01-secrets", or "go install ./cmd/sa01-secrets" first):

  export SA01_SECRETS_ADDR=%s
  export SA01_AUTH_INTERNAL_TOKEN=%s

  printf %%s 'sk-demo-not-a-real-key' | sa01-secrets put demo/openai_api_key
  sa01-secrets get demo/openai_api_key
  sa01-secrets run --service demo -- sh -c 'echo "OPENAI_API_KEY has ${#OPENAI_API_KEY} characters"'

Stop with Ctrl-C.
`, addr, tok, filepath.Join(dir, "secrets.db"), addr, tok)
}

func newLoginCommand(g *globals) *cobra.Command {
	var service string
	cmd := verb("login --service NAME", "Log in to the server as a service and print a service token", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		if service == "" {
			return usageError("sa01-secrets login --service gateway", "--service is required")
		}
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if cfg.SecretsAddr == "" {
			return usageError("export "+config.EnvSecretsAddr+"=http://127.0.0.1:8200", config.EnvSecretsAddr+" is not set")
		}
		c, err := remoteClient(cmd.Context(), cfg, service)
		if err != nil {
			return err
		}
		c.Close() // the caller renews; this process does not
		_, err = fmt.Fprintln(g.stdout, c.Token())
		return err
	})
	cmd.Flags().StringVar(&service, "service", "", "the service to log in as")
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
		return nil, withCode(ExitUsage, err, "fix the policy file named by "+config.EnvPolicyFile)
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
