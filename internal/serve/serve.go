// Package serve assembles a running server from a configuration: the store
// and its audit recorder, the Kafka publisher of the audit chain, the
// policy and the platform's OPA, the token and identity managers, the HTTP
// API, the web console with its background check of the targets, and the
// throwaway set-up of a dev server. The CLI's serve verb parses its flags
// into Options and calls Run; the same decision pipeline answers the CLI's
// policy explain (Explain).
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Options are what the serve verb's flags and the environment give Run.
type Options struct {
	Config         *config.Config
	Getenv         func(string) string // HOME and XDG_DATA_HOME, for the default store's place
	Listen         string              // "": Config.Listen
	TLSCert        string
	TLSKey         string
	InsecureListen bool
	Dev            bool // a throwaway store, a fresh key, dev identities (Dev)
	NoAudit        bool // benchmark builds only: record nothing
	NoReadCache    bool
	UIListen       string        // "": Config.UIListen; with Dev, the port after Listen's
	TargetsEvery   time.Duration // the console's check of the targets
	AuditBound     time.Duration // how long an access waits for its audit event
	Logger         *slog.Logger
	Stdout         io.Writer         // the dev banner; an audit file "-"
	Stderr         io.Writer         // listen warnings
	Ready          func(addr string) // called once the API listens
	UIReady        func(url string)  // called once the console listens, before Ready
}

// serving is the caller of what the server does on its own behalf.
var serving = audit.Caller{Actor: "serve", Source: "local"}

// Run serves until ctx ends. Errors that stop it from starting are fault
// errors where the operator can do something about them.
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	defer server.TuneGC(os.LookupEnv)()
	cfg := *o.Config
	listen := o.Listen
	if listen == "" {
		listen = cfg.Listen
	}
	ui := consoleAddr(o, &cfg, listen)
	if err := checkListen(o, &cfg, listen, ui); err != nil {
		return err
	}
	var dev *devServer
	if o.Dev {
		var err error
		if dev, err = devSetup(&cfg); err != nil {
			return err
		}
		defer os.RemoveAll(dev.dir)
	}
	ring, err := cfg.RequireKeys()
	if err != nil {
		return err
	}
	holder, err := policy.NewHolder(cfg.PolicyFile)
	if err != nil {
		return config.PolicyError(err)
	}
	if cfg.PolicyFile == "" && !cfg.OPA.Enabled() {
		log.Warn(config.EnvPolicyFile + " is not set: the policy is empty and every service is denied")
	}
	loc, err := open.Locate(cfg.DBDSN.Reveal(), o.Getenv)
	if err != nil {
		return err
	}
	openStore := open.Existing
	if o.Dev {
		openStore = open.At
	}
	st, err := openStore(ctx, loc)
	if err != nil {
		return err
	}
	defer st.Close()
	ids := identity.NewManager(st, identity.Options{})
	storeRec, err := open.Recorder(ctx, st, ring, open.RecorderOptions{File: cfg.AuditFile, Stdout: o.Stdout, Bound: o.AuditBound, Logger: log})
	if err != nil {
		return err
	}
	var rec audit.Recorder = storeRec
	if o.NoAudit {
		log.Warn("AUDIT IS OFF (--benchmark-without-audit): accesses are not recorded; never run this way outside a benchmark")
		rec = audit.Discard{}
	}
	svc := secrets.New(st, ring, rec, time.Now)
	if n, err := svc.SealOlder(audit.WithCaller(ctx, serving)); err != nil {
		return err
	} else if n > 0 {
		log.Info("sealed the states of secrets written before state MACs", "secrets", n)
	}
	warnKeys(ctx, log, st, ring, svc)
	reg := prometheus.NewRegistry()
	dec, err := OpenOPA(audit.WithCaller(ctx, serving), &cfg, svc, reg)
	if err != nil {
		return err
	}
	if dec != nil {
		log.Info("OPA decides every access the role table allows", "opa", dec.Endpoint(), "yaml_policy", cfg.PolicyFile != "", "timeout", dec.Timeout())
		if dec.Insecure() {
			log.Warn("OPA is reached over plain HTTP on a non-loopback address: its decisions can be read and, with no YAML policy, forged", "opa", dec.Endpoint())
		}
	}
	checks := map[string]func(context.Context) error{"store": func(ctx context.Context) error {
		_, err := st.Secret(ctx, "sa01-health-check")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}}
	if !o.NoAudit {
		for name, check := range storeRec.Checks() {
			checks[name] = check
		}
		if len(cfg.AuditKafka) > 0 { // ships the audit table to Kafka
			p := kafka.New(st, cfg.AuditKafka, cfg.AuditKafkaTopic, kafka.Options{Logger: log})
			defer p.Start(ctx, rec)()
		}
	}
	if dev != nil {
		if err := dev.identities(ctx, ids); err != nil {
			return err
		}
	} else if list, err := ids.List(ctx); err == nil && len(list) == 0 {
		log.Warn("the store has no identity: nobody can log in; run sa01-secrets init")
	}
	tokens := token.NewManager(st, token.Options{TTL: cfg.TokenTTL, MaxTTL: cfg.TokenMaxTTL})
	srv := server.New(server.Deps{
		Secrets: svc, Tokens: tokens, Identities: ids, Policy: holder, OPA: dec, Registry: reg, Audit: rec, Logger: log,
		Checks: checks, KeyAges: rotate.KeyAges(st, ring), CheckHost: server.IsLoopback(listen), LoginRate: cfg.LoginRate,
		AuditKey: func(ctx context.Context) (*audit.MACKey, error) { return open.AuditKey(ctx, st, ring) },
	})
	ln, addr, err := listenOn(o, listen, "", "pick another --listen address")
	if err != nil {
		return err
	}
	log.Info("serving", "addr", addr, "policy", orNone(cfg.PolicyFile), "store", describeStore(&cfg), "key_id", ring.Primary().ID(), "read_cache", readCache(o, svc))
	uiURL := ""
	if ui != "" {
		c := consoleOptions{st: st, ring: ring, rec: rec, ids: ids, svc: svc, holder: holder, dec: dec, cfg: &cfg}
		stop, url, err := startConsole(ctx, o, ui, c)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
		uiURL = url
	}
	if dev != nil {
		dev.banner(o.Stdout, addr, uiURL)
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
	if o.Ready != nil {
		o.Ready(addr)
	}
	if err := server.Serve(ctx, ln, srv, log); err != nil {
		return fault.New(fault.Unavailable, err, "")
	}
	if dev != nil && ctx.Err() != nil {
		fmt.Fprintln(o.Stderr, "sa01-secrets: dev server stopped; its data is gone")
	}
	return nil
}

// readCache describes whether the server's read cache is on, and if not why.
func readCache(o Options, svc *secrets.Service) string {
	switch {
	case o.NoReadCache:
		return "off (--no-read-cache)"
	case o.NoAudit:
		return "off (no audit event to prove a cached read current)"
	case !svc.CacheReads():
		return "off (the store or the audit sinks cannot prove a cached read current)"
	}
	return "on"
}

// checkListen checks the API's and the console's listen options before
// anything is opened or listens: a bad one stops serve as a usage error
// that names it.
func checkListen(o Options, cfg *config.Config, listen, ui string) error {
	if err := usageError(checkOptions(o, listen), ""); err != nil {
		return err
	}
	if ui == "" {
		return nil
	}
	return usageError(checkOptions(o, ui), consolePrefix(o, cfg))
}

func checkOptions(o Options, addr string) error {
	_, err := server.Check(server.ListenOptions{Addr: addr, TLSCert: o.TLSCert, TLSKey: o.TLSKey, InsecureListen: o.InsecureListen})
	return err
}

// usageError is err, a listen option that cannot work, as a usage error
// whose message starts with prefix.
func usageError(err error, prefix string) error {
	var ue *server.UsageError
	if errors.As(err, &ue) {
		return fault.New(fault.Usage, errors.New(prefix+ue.Msg), ue.Hint)
	}
	return err
}

// listenOn listens at addr. A listen option that cannot work is a usage
// error whose message starts with prefix; an address that cannot be
// listened on is unavailable, with hint.
func listenOn(o Options, addr, prefix, hint string) (net.Listener, string, error) {
	ln, bound, err := server.Listen(server.ListenOptions{Addr: addr, TLSCert: o.TLSCert, TLSKey: o.TLSKey,
		InsecureListen: o.InsecureListen, Logger: o.Logger, Warn: o.Stderr})
	var ue *server.UsageError
	var le *server.ListenError
	switch {
	case errors.As(err, &ue):
		return nil, "", usageError(err, prefix)
	case errors.As(err, &le):
		return nil, "", fault.New(fault.Unavailable, err, hint)
	case err != nil:
		return nil, "", err
	}
	return ln, bound, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// describeStore names the store without a password.
func describeStore(cfg *config.Config) string {
	if cfg.DBDSN.IsZero() {
		return "default SQLite file"
	}
	return config.MaskDSN(cfg.DBDSN.Reveal())
}

// warnKeys says at start what the loaded keys will refuse, which otherwise
// shows only at the first request that meets it: reads of versions under
// keys not loaded (key_not_loaded) and, under a primary key the store does
// not expect, every write (key_not_expected).
func warnKeys(ctx context.Context, log *slog.Logger, st store.Store, ring *fernet.Ring, svc *secrets.Service) {
	var mk *rotate.MissingKeysError
	if _, err := (&rotate.Engine{Source: st, Ring: ring}).Check(ctx); errors.As(err, &mk) {
		log.Warn(mk.Error()+": reading them fails (key_not_loaded)", "hint", "add those keys to "+config.EnvFernetPreviousKeys+" and restart")
	}
	var ke *secrets.KeyNotExpectedError
	if err := svc.CheckPrimary(ctx); errors.As(err, &ke) {
		log.Warn(ke.Error()+" (key_not_expected)", "hint", ke.Hint())
	}
}
