package serve

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/console/storebackend"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/opa"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/server"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
)

// consoleAddr is the web console's address: the option, else the
// configuration's, else under Dev loopback on the port after the API's;
// "" when there is no console.
func consoleAddr(o Options, cfg *config.Config, listen string) string {
	switch {
	case o.UIListen != "":
		return o.UIListen
	case cfg.UIListen != "":
		return cfg.UIListen
	case o.Dev:
		return devUIListen(listen)
	}
	return ""
}

// consolePrefix starts the message of a console address that cannot work:
// the flag or the variable it came from.
func consolePrefix(o Options, cfg *config.Config) string {
	switch {
	case o.UIListen != "":
		return "--ui-listen: "
	case cfg.UIListen != "":
		return config.EnvUIListen + ": "
	}
	return "console (--dev): "
}

// devUIListen is the console's address under Dev: loopback, on the port
// after the API's (any free port when the API's is 0).
func devUIListen(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n == 0 || n >= 65535 {
		return "127.0.0.1:0"
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n+1))
}

// targetsCheck is the caller of the console's background reads of the
// targets' connection strings (targets.WatchFile), each audited.
var targetsCheck = audit.Caller{Actor: serving.Actor, Source: serving.Source, Service: "targets-check"}

// consoleOptions are the server's parts the console works with.
type consoleOptions struct {
	st     store.Store
	ring   *fernet.Ring
	rec    audit.Recorder
	ids    *identity.Manager
	svc    *secrets.Service
	holder *policy.Holder
	dec    *opa.Decider
	cfg    *config.Config
}

// startConsole serves the web console at addr until ctx ends or stop is
// called (stop waits for it), and returns its URL.
func startConsole(ctx context.Context, o Options, addr string, c consoleOptions) (stop func(), url string, err error) {
	log := o.Logger
	ln, bound, err := listenOn(o, addr, consolePrefix(o, c.cfg), "pick another --ui-listen address ("+config.EnvUIListen+")")
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithCancel(ctx)
	kafkaTopic := ""
	if len(c.cfg.AuditKafka) > 0 {
		kafkaTopic = c.cfg.AuditKafkaTopic
	}
	var file *audit.File
	if r, ok := c.rec.(*audit.StoreRecorder); ok {
		file = r.File()
	}
	ui := storebackend.New(storebackend.Options{Store: c.st, Ring: c.ring, Recorder: c.rec, Identities: c.ids, Service: c.svc,
		Policy: c.holder, OPA: c.dec, KafkaTopic: kafkaTopic, File: file,
		Targets: targets.WatchFile(ctx, c.cfg.TargetsFile, targets.FromService(c.svc, &targetsCheck), c.ring, o.TargetsEvery, log)})
	var h http.Handler = console.New(console.Options{Backend: ui, Logger: log})
	if server.IsLoopback(addr) {
		h = server.HostCheck(h)
	}
	url = bound + console.Prefix
	log.Info("serving the web console", "url", url)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := server.Serve(ctx, ln, h, log); err != nil {
			log.Error("the web console stopped", "error", err)
		}
	}()
	if o.UIReady != nil {
		o.UIReady(url)
	}
	return func() { cancel(); <-done }, url, nil
}
