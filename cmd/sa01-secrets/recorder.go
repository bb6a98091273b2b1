package main

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// auditBound is how long an access waits for its audit event to be
// recorded before it is refused: audit.DefaultTimeout. The tests of this
// package raise it, as -race on a loaded machine can take longer; nothing
// else changes it.
var auditBound = audit.DefaultTimeout

// openRecorder returns the audit recorder for accesses through st
// (open.Recorder) with the environment's keys.
func openRecorder(ctx context.Context, g *globals, st store.Store) (audit.Recorder, error) {
	return openRecorderWith(ctx, g, st, nil)
}

// openRecorderWith is openRecorder with the audit key opened by ring (nil:
// the environment's keys).
func openRecorderWith(ctx context.Context, g *globals, st store.Store, ring *fernet.Ring) (audit.Recorder, error) {
	cfg, err := g.config()
	if err == nil && ring == nil {
		ring, err = requireKeys(g)
	}
	if err != nil {
		return nil, err
	}
	rec, err := open.Recorder(ctx, st, ring, open.RecorderOptions{File: cfg.AuditFile, Stdout: g.stdout, Bound: auditBound, Logger: g.log()})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// auditKey opens the store's audit key with the loaded Fernet keys (open.AuditKey).
func auditKey(ctx context.Context, g *globals, st store.Store) (*audit.MACKey, error) {
	ring, err := requireKeys(g)
	if err != nil {
		return nil, err
	}
	return open.AuditKey(ctx, st, ring)
}

// startAuditPublisher starts shipping the store's audit chain to Kafka when
// SA01_SECRETS_AUDIT_KAFKA is set (kafka.Publisher.Start), and returns a
// function that stops it; p is nil when Kafka is not configured.
func startAuditPublisher(ctx context.Context, g *globals, st store.Store, rec audit.Recorder) (p *kafka.Publisher, stop func(), err error) {
	cfg, err := g.config()
	if err != nil || len(cfg.AuditKafka) == 0 {
		return nil, func() {}, err
	}
	p = kafka.New(st, cfg.AuditKafka, cfg.AuditKafkaTopic, kafka.Options{Logger: g.log()})
	return p, p.Start(ctx, rec), nil
}
