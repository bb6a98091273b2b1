package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// openRecorder returns the audit recorder for accesses through st: the
// store's hash chain (always), plus the JSON-lines file SA01_AUDIT_FILE when
// set, each behind group commit, all under audit.Bounded so that a sink
// that fails or does not answer within audit.DefaultTimeout refuses the
// access instead of hanging it. Kafka is not a sink here: the publisher
// (startAuditPublisher) ships the store's chain, so reads never wait on it.
func openRecorder(ctx context.Context, g *globals, st store.Store) (audit.Recorder, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	var key *audit.MACKey
	if ks := audit.MACKeys(cfg.Keys); len(ks) > 0 {
		key = &ks[0]
	}
	chain := audit.NewChain(st, key)
	// The chain comes first: it alone can check a guarded event (the
	// server's read cache), and the Tee gives one to the others only
	// once the chain has recorded it.
	sinks := audit.Tee{audit.NewBatcher(chain, audit.BatcherOptions{})}
	var fileSink *audit.File
	if cfg.AuditFile != "" {
		if fileSink, err = openAuditFile(cfg.AuditFile, g); err != nil {
			return nil, err
		}
		sinks = append(sinks, audit.NewBatcher(fileSink, audit.BatcherOptions{}))
	}
	log := g.log()
	return &storeRecorder{
		Bounded: audit.NewBounded(sinks, audit.DefaultTimeout, func(err error) {
			log.Error("audit: recording failed; the access is refused", "err", err)
		}),
		chain: chain,
		store: st,
		file:  fileSink,
	}, nil
}

// storeRecorder is the recorder openRecorder returns; the server adds its
// Kafka publisher to the chain's notifications with notifyOnCommit.
type storeRecorder struct {
	*audit.Bounded
	chain *audit.Chain
	store store.Audit
	file  *audit.File // nil without SA01_AUDIT_FILE
}

// Ping reports whether the sinks can take events: the store's chain can be
// read and the file sink has not failed. The server's health check uses it.
func (r *storeRecorder) Ping(ctx context.Context) error {
	if _, err := r.store.AuditHead(ctx); err != nil {
		return errors.New("audit: the store's chain cannot be read")
	}
	if r.file != nil {
		if err := r.file.Err(); err != nil {
			return errors.New("audit: the audit file sink has failed")
		}
	}
	return nil
}

// notifyOnCommit tells n after every commit of rec's chain, when rec is
// the recorder openRecorder made.
func notifyOnCommit(rec audit.Recorder, n audit.Notifier) {
	if r, ok := rec.(*storeRecorder); ok {
		r.chain.AddNotifier(n)
	}
}

// auditFiles shares one sink per path within a process, so two recorders
// never interleave two chains in one file.
var (
	auditFilesMu sync.Mutex
	auditFiles   = map[string]*audit.File{}
)

func openAuditFile(path string, g *globals) (*audit.File, error) {
	if path == "-" {
		return audit.OpenFile("-", g.stdout)
	}
	auditFilesMu.Lock()
	defer auditFilesMu.Unlock()
	if f, ok := auditFiles[path]; ok {
		return f, nil
	}
	f, err := audit.OpenFile(path, nil)
	if err != nil {
		return nil, withCode(ExitUnavailable, fmt.Errorf("SA01_AUDIT_FILE: %w", err), "check the file's directory and permissions (the file must be 0600)")
	}
	auditFiles[path] = f
	return f, nil
}

// startAuditPublisher starts shipping the store's audit chain to Kafka when
// SA01_KAFKA_BOOTSTRAP_SERVERS is set, and returns a function that stops
// it. rec, when it is openRecorder's, wakes the publisher after each commit.
// The server calls it once at start; p is nil when Kafka is not configured.
func startAuditPublisher(ctx context.Context, g *globals, st store.Store, rec audit.Recorder) (p *kafka.Publisher, stop func(), err error) {
	cfg, err := g.config()
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.KafkaBootstrap) == 0 {
		return nil, func() {}, nil
	}
	p = kafka.New(st, cfg.KafkaBootstrap, cfg.AuditKafkaTopic, kafka.Options{Logger: g.log()})
	notifyOnCommit(rec, p)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	return p, func() { cancel(); <-done }, nil
}
