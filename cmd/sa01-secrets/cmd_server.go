package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
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
	noAudit        bool // benchmarks only: measure the cost of auditing
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
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] | serve --dev",
		Short: "Serve the HTTP API: service login, expiring tokens, least-privilege reads",
		Long: `serve runs the HTTP API on --listen (default $SA01_LISTEN, else 127.0.0.1:8200)
over the store of SA01_DB_DSN, with the policy of SA01_POLICY_FILE and the keys
of SA01_CRYPTO_FERNET_KEY. Services log in with SA01_AUTH_INTERNAL_TOKEN and get
tokens that expire after SA01_AUTH_TOKEN_TTL (default 1h), renewable up to
SA01_AUTH_TOKEN_MAX_TTL (default 24h).

Plain HTTP is served only on a loopback address; anything else needs
--tls-cert and --tls-key, or --insecure-listen (which warns loudly).
SIGHUP reloads the policy (a bad file keeps the old one and says why);
SIGTERM and SIGINT stop gracefully.

--dev runs a throwaway server: a fresh SQLite store in a temporary directory,
a fresh key, auth on, a fresh internal token, printed with example commands.
It keeps nothing: everything is removed on exit.`,
		Example: `  sa01-secrets serve --dev
  SA01_POLICY_FILE=policy.yaml sa01-secrets serve
  sa01-secrets serve --listen 0.0.0.0:8200 --tls-cert server.crt --tls-key server.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "address to listen on (default: $SA01_LISTEN, else 127.0.0.1:8200)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&o.insecureListen, "insecure-listen", false, "allow plain HTTP on a non-loopback address (dangerous)")
	f.BoolVar(&o.dev, "dev", false, "throwaway dev server: temporary store, fresh key and internal token, nothing kept")
	f.BoolVar(&o.noReadCache, "no-read-cache", false, "read every current version from the store (the cache serves only versions proven current when the read's audit event commits; see docs/server.md)")
	f.BoolVar(&o.noAudit, "benchmark-without-audit", false, "record no audit events (benchmarks only: breaks the audit policy)")
	_ = f.MarkHidden("benchmark-without-audit")
	return cmd
}

// isLoopback reports whether a listen address only accepts local
// connections.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// randomToken returns 32 random bytes in URL-safe base64.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
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
	c.InternalToken = sensitive.New(randomToken())
	c.DBDSN = sensitive.New("sqlite://" + filepath.Join(dir, "secrets.db"))
	c.PolicyFile = pol
	c.AuthRequired = true
	c.AuditFile = ""
	g.cfg = &c
	return dir, nil
}

// serveGCPercent is the collector's target while serving, unless GOGC is
// set: the server's live heap is a few megabytes and every request
// allocates about 10 KiB, so at Go's default of 100 the collector starts a
// cycle every few hundred requests (in bench/server, 400 instead of 100 cut
// the server's CPU per audited read by about a sixth). At 400 the heap
// stays in the tens of megabytes.
const serveGCPercent = 400

// tuneGC sets the collector's target for serving unless the GOGC variable
// (read by the Go runtime itself) is set, and returns a function that
// restores the previous target.
func tuneGC(lookupEnv func(string) (string, bool)) (restore func()) {
	if _, set := lookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(serveGCPercent)
	return func() { debug.SetGCPercent(prev) }
}

func serve(ctx context.Context, g *globals, o serveOptions) error {
	log := g.log()
	defer tuneGC(os.LookupEnv)()
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
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError("give both --tls-cert and --tls-key", "TLS needs both a certificate and a key")
	}
	useTLS := o.tlsCert != ""
	if !useTLS && !isLoopback(listen) {
		if !o.insecureListen {
			return usageError("serve TLS with --tls-cert and --tls-key, listen on 127.0.0.1, or (not recommended) add --insecure-listen",
				"refusing plain HTTP on %s: it is not a loopback address", listen)
		}
		log.Warn("INSECURE: serving plain HTTP on a non-loopback address; tokens and secret values cross the network unencrypted", "listen", listen)
		fmt.Fprintf(g.stderr, "\n!!! WARNING: plain HTTP on %s (--insecure-listen). Tokens and secret values\n!!! travel unencrypted. Use --tls-cert/--tls-key outside a trusted network.\n\n", listen)
	}
	var certs []tls.Certificate
	if useTLS {
		c, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return usageError("check that the files are PEM and the key matches the certificate", "--tls-cert/--tls-key: cannot load the key pair")
		}
		certs = []tls.Certificate{c}
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
		KeyAges:       keyAges(st, ring),
	})

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return withCode(ExitUnavailable, fmt.Errorf("cannot listen on %s: %v", listen, errors.Unwrap(err)), "pick another --listen address")
	}
	hs := server.HTTPServer(listen, srv, log)
	scheme := "http"
	if useTLS {
		scheme = "https"
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: certs}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	addr := scheme + "://" + ln.Addr().String()
	log.Info("serving", "addr", addr, "auth_required", cfg.AuthRequired, "policy", orNone(cfg.PolicyFile), "store", storeDescription(cfg), "key_id", ring.Primary().ID(), "read_cache", readCache)
	if o.dev {
		printDevBanner(g.stdout, addr, cfg.InternalToken, devDir)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go func() {
		purge := time.NewTicker(10 * time.Minute)
		defer purge.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-hup:
				reloadPolicy(bg, log, holder, rec)
			case <-purge.C:
				if n, err := tokens.Purge(bg, 24*time.Hour); err != nil {
					log.Warn("purging old token records failed", "error", err)
				} else if n > 0 {
					log.Info("purged old token records", "count", n)
				}
			}
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if o.ready != nil {
		o.ready(addr)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return withCode(ExitUnavailable, fmt.Errorf("server stopped: %w", err), "")
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown deadline passed; closing connections", "error", err)
		_ = hs.Close()
	}
	if o.dev {
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

// reloadPolicy swaps the policy on SIGHUP, keeping the old one on error.
func reloadPolicy(ctx context.Context, log *slog.Logger, h *policy.Holder, rec audit.Recorder) {
	ev := audit.Event{Action: "policy-reload", Actor: "signal", Source: "local", Outcome: audit.Success, Detail: h.Path()}
	if err := h.Reload(); err != nil {
		log.Error("policy reload failed; the old policy stays in force", "error", err)
		ev.Outcome, ev.Reason = audit.Failure, "invalid policy"
	} else {
		log.Info("policy reloaded", "file", h.Path(), "services", len(h.Current().Services()))
	}
	if err := rec.Record(ctx, audit.Stamp(ctx, ev)); err != nil {
		log.Error("audit record of the policy reload failed", "error", err)
	}
}

// keyAges reports each loaded key's age from the store's key records.
func keyAges(st store.Store, ring *fernet.Ring) func() []server.KeyAge {
	return func() []server.KeyAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		infos, err := st.ListKeys(ctx)
		if err != nil {
			return nil
		}
		created := map[string]time.Time{}
		for _, k := range infos {
			created[k.ID] = k.CreatedAt
		}
		var out []server.KeyAge
		now := time.Now()
		for i, k := range ring.Keys() {
			c, ok := created[k.ID()]
			if !ok {
				continue // not yet recorded: no age known
			}
			out = append(out, server.KeyAge{ID: k.ID(), Primary: i == 0, Age: now.Sub(c)})
		}
		return out
	}
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
	cmd := &cobra.Command{
		Use:   "login --service NAME",
		Short: "Log in to the server as a service and print a service token",
		Long: `login uses SA01_AUTH_INTERNAL_TOKEN to log in to the server at
SA01_SECRETS_ADDR as NAME and prints the service token (sa01s_...) on stdout,
for a launcher to hand to a service, or for SA01_SECRETS_TOKEN. The token
expires after the server's TTL; services renew it (the Go client does).`,
		Example: `  export SA01_SECRETS_TOKEN=$(sa01-secrets login --service admin)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			c, err := remoteClient(cmd.Context(), g, cfg, service)
			if err != nil {
				return err
			}
			c.Close() // the caller renews; this process does not
			_, err = fmt.Fprintln(g.stdout, c.Token())
			return err
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "the service to log in as")
	return cmd
}

// localRunSource serves run from the local store, under the local policy,
// audited as the service.
type localRunSource struct {
	svc     *secrets.Service
	rec     audit.Recorder
	st      store.Store
	pol     *policy.Policy
	service string
}

func openLocalRunSource(ctx context.Context, g *globals, cfg *config.Config, service string) (runSource, error) {
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
	st, err := openStore(ctx, g)
	if err != nil {
		return nil, err
	}
	rec, err := openRecorder(ctx, g, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &localRunSource{svc: secrets.New(st, ring, rec, time.Now), rec: rec, st: st, pol: pol, service: service}, nil
}

func (l *localRunSource) caller(ctx context.Context) context.Context {
	return audit.WithCaller(ctx, audit.Caller{Service: l.service, Actor: osUser(), Source: "local"})
}

func (l *localRunSource) Granted(ctx context.Context) ([]runEntry, error) {
	list, err := l.svc.List(l.caller(ctx), "", false)
	if err != nil {
		return nil, err
	}
	var out []runEntry
	for _, s := range list {
		if l.pol.Allowed(l.service, policy.Read, s.Name) {
			out = append(out, runEntry{Name: s.Name, Env: s.EnvName, Version: s.CurrentVersion})
		}
	}
	return out, nil
}

func (l *localRunSource) Value(ctx context.Context, name string) (sensitive.String, int, error) {
	if !l.pol.Allowed(l.service, policy.Read, name) {
		return sensitive.String{}, 0, withCode(ExitDenied, fmt.Errorf("the policy does not let %s read %s", l.service, name), "")
	}
	v, err := l.svc.Get(l.caller(ctx), name, 0)
	if err != nil {
		return sensitive.String{}, 0, err
	}
	return v.Value, v.Version.Version, nil
}

func (l *localRunSource) Close() { l.st.Close() }

// Started records a run event: which service, how many secrets, which
// command (its base name only; arguments may hold anything). Fail closed.
func (l *localRunSource) Started(ctx context.Context, command string, n int) error {
	ev := audit.Stamp(l.caller(ctx), audit.Event{Action: "run", Outcome: audit.Success,
		Detail: fmt.Sprintf("%d secrets injected into %s", n, filepath.Base(command))})
	if err := l.rec.Record(ctx, ev); err != nil {
		return fmt.Errorf("run: %w", audit.ErrNotRecorded)
	}
	return nil
}

// exportService writes what run would inject for service, for export
// --service.
func exportService(ctx context.Context, g *globals, service, format, output string) error {
	src, err := openRunSource(ctx, g, service)
	if err != nil {
		return err
	}
	defer src.Close()
	entries, err := src.Granted(ctx)
	if err != nil {
		return err
	}
	var vals []secrets.Value
	for _, e := range entries {
		v, ver, err := src.Value(ctx, e.Name)
		if err != nil {
			return err
		}
		vals = append(vals, secrets.Value{
			Secret:  store.Secret{Name: e.Name, EnvName: server.EnvName(e.Name, e.Env), CurrentVersion: ver},
			Version: store.Version{Secret: e.Name, Version: ver},
			Value:   v,
		})
	}
	var buf bytes.Buffer
	if err := renderExport(&buf, vals, "", format); err != nil {
		return err
	}
	if output == "" {
		_, err := g.stdout.Write(buf.Bytes())
		return err
	}
	return writeFile0600(output, buf.Bytes())
}
