package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/console/storebackend"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
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
	uiListen       string
	targetsEvery   time.Duration
	ready          func(addr string) // tests: called once listening
	uiReady        func(addr string) // tests: called once the console listens, before ready
}

// devPolicy is the policy of serve --dev. The operator admin needs no
// entry: its role lets it do everything.
const devPolicy = `# serve --dev: the service demo may read demo/*.
services:
  demo: {read: ["demo/*"]}
`

func newServeCommand(g *globals) *cobra.Command {
	var o serveOptions
	cmd := verb("serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] | serve --dev", "Serve the HTTP API: each identity's login, expiring tokens, least-privilege reads", cobra.NoArgs, func(cmd *cobra.Command, args []string) error {
		return serve(cmd.Context(), g, o)
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

// devSetup makes the temporary directory, key and policy of --dev and
// points the configuration at them; serve makes the identities.
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
	c.DBDSN = sensitive.New("sqlite://" + filepath.Join(dir, "secrets.db"))
	c.PolicyFile = pol
	c.AuditFile = ""
	g.cfg = &c
	return dir, nil
}

func serve(ctx context.Context, g *globals, o serveOptions) error {
	g.serving = true // the server's store is its own, whatever SA01_SECRETS_ADDR says
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
	holder, err := policy.NewHolder(cfg.PolicyFile)
	if err != nil {
		return withCode(ExitUsage, err, "fix the policy file named by "+config.EnvPolicyFile)
	}
	if cfg.PolicyFile == "" && !cfg.OPA.Enabled() {
		log.Warn(config.EnvPolicyFile + " is not set: the policy is empty and every service is denied")
	}

	st, err := openStoreFor(ctx, g, o.dev)
	if err != nil {
		return err
	}
	defer st.Close()
	ids := identity.NewManager(st, identity.Options{})
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		return err
	}
	if o.noAudit {
		log.Warn("AUDIT IS OFF (--benchmark-without-audit): accesses are not recorded; never run this way outside a benchmark")
		rec = audit.Discard{}
	}
	svc := secrets.New(st, ring, rec, time.Now)
	if n, err := sealStates(audit.WithCaller(ctx, audit.Caller{Actor: "serve", Source: "local"}), svc); err != nil {
		return err
	} else if n > 0 {
		log.Info("sealed the states of secrets written before state MACs", "secrets", n)
	}
	readCache := "on"
	switch {
	case o.noReadCache:
		readCache = "off (--no-read-cache)"
	case o.noAudit:
		readCache = "off (no audit event to prove a cached read current)"
	case !svc.CacheReads():
		readCache = "off (the store or the audit sinks cannot prove a cached read current)"
	}
	reg := prometheus.NewRegistry()
	dec, err := openOPA(audit.WithCaller(ctx, audit.Caller{Actor: "serve", Source: "local"}), cfg, svc, reg)
	if err != nil {
		return err
	}
	if dec != nil {
		log.Info("OPA decides every access the role table allows", "opa", dec.Endpoint(), "yaml_policy", cfg.PolicyFile != "", "timeout", dec.Timeout())
		if dec.Insecure() {
			log.Warn("OPA is reached over plain HTTP on a non-loopback address: its decisions can be read and, with no YAML policy, forged", "opa", dec.Endpoint())
		}
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
	if r, ok := rec.(*audit.StoreRecorder); ok && !o.noAudit {
		for name, check := range r.Checks() {
			checks[name] = check
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
	var devCreds []devCredential
	if o.dev {
		if devCreds, err = devIdentities(ctx, ids, devDir); err != nil {
			return err
		}
	} else if list, err := ids.List(ctx); err == nil && len(list) == 0 {
		log.Warn("the store has no identity: nobody can log in; run sa01-secrets init")
	}
	srv := server.New(server.Deps{
		Secrets:    svc,
		Tokens:     tokens,
		Identities: ids,
		Policy:     holder,
		OPA:        dec,
		Registry:   reg,
		Audit:      rec,
		Logger:     log,
		Checks:     checks,
		KeyAges:    rotate.KeyAges(st, ring),
		AuditKey:   func(ctx context.Context) (*audit.MACKey, error) { return auditKeyWith(ctx, st, ring, g) },
		CheckHost:  server.IsLoopback(listen),
		LoginRate:  cfg.LoginRate,
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
	log.Info("serving", "addr", addr, "policy", orNone(cfg.PolicyFile), "store", storeDescription(cfg), "key_id", ring.Primary().ID(), "read_cache", readCache)
	uiListen := o.uiListen
	if uiListen == "" {
		uiListen = cfg.UIListen
	}
	if uiListen == "" && o.dev {
		uiListen = devUIListen(listen)
	}
	uiURL := ""
	if uiListen != "" {
		tctx, stopTargets := context.WithCancel(ctx)
		defer stopTargets()
		ui := storebackend.New(storebackend.Options{Store: st, Ring: ring, Recorder: rec, Identities: ids, Service: svc,
			Policy: holder, OPA: dec, KafkaTopic: kafkaTopic(cfg), File: auditFileOf(rec),
			Targets: watchTargets(tctx, cfg.TargetsFile, svc, ring, o.targetsEvery, log)})
		var h http.Handler = console.New(console.Options{Backend: ui, Logger: log})
		if server.IsLoopback(uiListen) {
			h = server.HostCheck(h)
		}
		uiLn, uiAddr, err := server.Listen(server.ListenOptions{Addr: uiListen, TLSCert: o.tlsCert, TLSKey: o.tlsKey,
			InsecureListen: o.insecureListen, Logger: log, Warn: g.stderr})
		switch {
		case errors.As(err, &ue):
			ln.Close()
			return usageError(ue.Hint, "console (%s): %s", config.EnvUIListen, ue.Msg)
		case errors.As(err, &le):
			ln.Close()
			return withCode(ExitUnavailable, err, "pick another --ui-listen address ("+config.EnvUIListen+")")
		}
		uiURL = uiAddr + console.Prefix
		log.Info("serving the web console", "url", uiURL)
		uiCtx, stopUI := context.WithCancel(ctx)
		uiDone := make(chan struct{})
		defer func() { stopUI(); <-uiDone }()
		go func() {
			defer close(uiDone)
			if err := server.Serve(uiCtx, uiLn, h, log); err != nil {
				log.Error("the web console stopped", "error", err)
			}
		}()
		if o.uiReady != nil {
			o.uiReady(uiURL)
		}
	}
	if o.dev {
		printDevBanner(g.stdout, addr, devCreds, devDir)
		if uiURL != "" {
			fmt.Fprintf(g.stdout, "Web console: %s (sign in with the admin credential above)\n", uiURL)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go server.Maintain(bg, hup, holder, tokens, rec, log)
	// On PostgreSQL a revocation on any node reaches this one at once
	// (LISTEN/NOTIFY); the token and identity caches' 2 s stay the fallback.
	go func() { _ = srv.WatchRevocations(bg, st) }()
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

// devUIListen is the console's address under --dev: loopback, on the port
// after the API's (any free port when the API's is 0).
func devUIListen(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n == 0 || n >= 65535 {
		return "127.0.0.1:0"
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n+1))
}

// kafkaTopic is the topic the audit chain is shipped to, or "".
func kafkaTopic(cfg *config.Config) string {
	if len(cfg.AuditKafka) == 0 {
		return ""
	}
	return cfg.AuditKafkaTopic
}

// auditFileOf returns the recorder's file sink, if any.
func auditFileOf(rec audit.Recorder) *audit.File {
	if r, ok := rec.(*audit.StoreRecorder); ok {
		return r.File()
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

// devCredential is an identity serve --dev made, and the file holding its
// credential.
type devCredential struct {
	name, what, file string
	cred             sensitive.String
}

// devIdentities creates the dev server's operator admin and service demo,
// and writes their credentials to 0600 files in dir.
func devIdentities(ctx context.Context, ids *identity.Manager, dir string) ([]devCredential, error) {
	var out []devCredential
	for _, d := range []struct {
		name, what string
		o          identity.AddOptions
	}{
		{"admin", "operator, role admin", identity.AddOptions{Kind: identity.Operator, Role: identity.Admin}},
		{"demo", "service, may read demo/*", identity.AddOptions{Kind: identity.Service}},
	} {
		is, err := ids.Add(ctx, d.name, d.o)
		if err != nil {
			return nil, fmt.Errorf("--dev: creating identity %s: %w", d.name, err)
		}
		file := filepath.Join(dir, d.name+".credential")
		if err := safefile.WriteFile(file, []byte(is.Credential.Reveal()+"\n"), safefile.Options{}); err != nil {
			return nil, fmt.Errorf("--dev: writing the credential of %s: %w", d.name, err)
		}
		out = append(out, devCredential{name: d.name, what: d.what, file: file, cred: is.Credential})
	}
	return out, nil
}

func printDevBanner(w io.Writer, addr string, creds []devCredential, dir string) {
	fmt.Fprintf(w, `sa01-secrets dev server: a throwaway store for trying things out.
It keeps NOTHING: the store, the key and the credentials below vanish on exit.
Never put a real secret in it.

  Address:  %s
  Store:    %s (removed on exit)
`, addr, filepath.Join(dir, "secrets.db"))
	for _, c := range creds {
		fmt.Fprintf(w, "  %-8s  %s (%s)\n            in %s\n", c.name+":", c.cred.Reveal(), c.what, c.file)
	}
	admin, demo := creds[0].file, creds[1].file
	fmt.Fprintf(w, `
Try, in another shell (from a checkout without the binary installed, write
"go run ./cmd/sa01-secrets" for "sa01-secrets", or "go install ./cmd/sa01-secrets" first):

  export SA01_SECRETS_ADDR=%s
  export SA01_SECRETS_CREDENTIAL_FILE=%s

  printf %%s 'sk-demo-not-a-real-key' | sa01-secrets put demo/openai_api_key
  sa01-secrets get demo/openai_api_key
  SA01_SECRETS_CREDENTIAL_FILE=%s sa01-secrets run --service demo -- sh -c 'echo "OPENAI_API_KEY has ${#OPENAI_API_KEY} characters"'

Stop with Ctrl-C.
`, addr, admin, demo)
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
		c, err := loginClient(cmd.Context(), cfg, credFile, name)
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
