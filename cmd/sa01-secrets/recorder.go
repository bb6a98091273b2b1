package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// auditBound is how long an access waits for its audit event to be
// recorded before it is refused: audit.DefaultTimeout. The tests of this
// package raise it, as -race on a loaded machine can take longer; nothing
// else changes it.
var auditBound = audit.DefaultTimeout

// openRecorder returns the audit recorder for accesses through st: the
// store's keyed chain (always), plus the JSON-lines file SA01_SECRETS_AUDIT_FILE
// when set, under the bound auditBound (audit.NewStoreRecorder). Kafka is
// not a sink here: the publisher (startAuditPublisher) ships the store's
// chain, so reads never wait on it. Opening it creates the store's audit
// key when the store has none, so a new store's first event is keyed.
func openRecorder(ctx context.Context, g *globals, st store.Store) (audit.Recorder, error) {
	return openRecorderWith(ctx, g, st, nil)
}

// openRecorderWith is openRecorder with the audit key opened by ring (nil:
// the environment's keys).
func openRecorderWith(ctx context.Context, g *globals, st store.Store, ring *fernet.Ring) (audit.Recorder, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	key, err := auditKeyWith(ctx, st, ring, g)
	if err != nil {
		return nil, err
	}
	var file *audit.File
	if cfg.AuditFile != "" {
		if file, err = openAuditFile(cfg.AuditFile, g, key); err != nil {
			return nil, err
		}
	}
	log := g.log()
	return audit.NewStoreRecorder(st, key, file, auditBound, func(err error) {
		log.Error("audit: recording failed; the access is refused", "err", err)
	}), nil
}

// auditFiles shares one sink per path within a process, so two recorders
// never interleave two chains in one file.
var (
	auditFilesMu sync.Mutex
	auditFiles   = map[string]*audit.File{}
)

func openAuditFile(path string, g *globals, key *audit.MACKey) (*audit.File, error) {
	if path == "-" {
		return audit.OpenFile("-", g.stdout, key)
	}
	auditFilesMu.Lock()
	defer auditFilesMu.Unlock()
	if f, ok := auditFiles[path]; ok {
		return f, nil
	}
	f, err := audit.OpenFile(path, nil, key)
	if err != nil {
		return nil, withCode(ExitUnavailable, fmt.Errorf("%s: %w", config.EnvAuditFile, err), "check the file's directory and permissions (the file must be 0600)")
	}
	auditFiles[path] = f
	return f, nil
}

// auditKey opens the store's audit key with the loaded Fernet keys
// (audit.LoadKey), dropping its wrappings under keys the store records as
// retired or compromised.
func auditKey(ctx context.Context, g *globals, st store.Store) (*audit.MACKey, error) {
	return auditKeyWith(ctx, st, nil, g)
}

// auditKeyWith is auditKey with the keys of ring (nil: the environment's).
func auditKeyWith(ctx context.Context, st store.Store, ring *fernet.Ring, g *globals) (*audit.MACKey, error) {
	if ring == nil {
		var err error
		if ring, err = requireKeys(g); err != nil {
			return nil, err
		}
	}
	key, err := audit.LoadKey(ctx, st, ring, func(id string) bool {
		k, err := st.Key(ctx, id)
		return err == nil && (k.State == store.KeyRetired || k.State == store.KeyCompromised)
	})
	if errors.Is(err, audit.ErrKeyUnavailable) {
		return nil, withCode(ExitInvalidToken, err, "load the Fernet key the store was last used with in "+config.EnvFernetPreviousKeys)
	}
	return key, err
}

// startAuditPublisher starts shipping the store's audit chain to Kafka when
// SA01_SECRETS_AUDIT_KAFKA is set, and returns a function that stops
// it. rec, when it is openRecorder's, wakes the publisher after each commit.
// The server calls it once at start; p is nil when Kafka is not configured.
func startAuditPublisher(ctx context.Context, g *globals, st store.Store, rec audit.Recorder) (p *kafka.Publisher, stop func(), err error) {
	cfg, err := g.config()
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.AuditKafka) == 0 {
		return nil, func() {}, nil
	}
	p = kafka.New(st, cfg.AuditKafka, cfg.AuditKafkaTopic, kafka.Options{Logger: g.log()})
	if r, ok := rec.(*audit.StoreRecorder); ok {
		r.AddNotifier(p)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	return p, func() { cancel(); <-done }, nil
}
