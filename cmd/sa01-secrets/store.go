package main

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/open"
)

// storeLocation is where a store is (open.Location), with its SQLite file
// ("" for PostgreSQL).
type storeLocation struct {
	open.Location
	sqlitePath string
}

func (loc storeLocation) driver() string { return loc.Driver() }

// locateStore reads SA01_SECRETS_DB_DSN (open.Locate).
func locateStore(g *globals) (storeLocation, error) {
	cfg, err := g.config()
	if err != nil {
		return storeLocation{}, err
	}
	return locateDSN(g, cfg.DBDSN.Reveal())
}

// locateDSN is locateStore for a DSN given some other way (migrate --to).
func locateDSN(g *globals, dsn string) (storeLocation, error) {
	loc, err := open.Locate(dsn, g.getenv)
	return storeLocation{loc, loc.SQLitePath}, err
}

// openStore opens the existing store SA01_SECRETS_DB_DSN names (open.Existing).
func openStore(ctx context.Context, g *globals) (store.Store, error) {
	return openStoreFor(ctx, g, false)
}

// openStoreFor is openStore that creates a missing SQLite store when
// create is set: init.
func openStoreFor(ctx context.Context, g *globals, create bool) (store.Store, error) {
	if err := notThroughServer(g); err != nil {
		return nil, err
	}
	loc, err := locateStore(g)
	if err != nil {
		return nil, err
	}
	if create {
		return open.At(ctx, loc.Location)
	}
	return open.Existing(ctx, loc.Location)
}

// openStoreAt opens the store at loc (open.At).
func openStoreAt(ctx context.Context, loc storeLocation) (store.Store, error) {
	return open.At(ctx, loc.Location)
}

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

// local is the local store with its audit recorder, for the verbs that
// work without a server; ctx carries the local operator as caller.
type local struct {
	ctx context.Context
	cfg *config.Config
	st  store.Store
	rec audit.Recorder
}

// openLocal opens the store of SA01_SECRETS_DB_DSN and its audit recorder.
func openLocal(ctx context.Context, g *globals) (*local, error) {
	return openLocalWith(ctx, g, "")
}

// openLocalWith is openLocal with the audit key opened by the keys of
// envFile when it names a readable env file (the rotation verbs work from
// it, and the environment may hold no key), else by the environment's.
func openLocalWith(ctx context.Context, g *globals, envFile string) (*local, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, g)
	if err != nil {
		return nil, err
	}
	var ring *fernet.Ring
	if envFile != "" {
		if ef, err := dotenv.Read(envFile); err == nil {
			ring, _ = rotate.EnvRing(ef)
		}
	}
	rec, err := openRecorderWith(ctx, g, st, ring)
	if err != nil {
		st.Close()
		return nil, err
	}
	ctx = audit.WithCaller(ctx, audit.Caller{Actor: osUser(), Source: "local"})
	return &local{ctx: ctx, cfg: cfg, st: st, rec: rec}, nil
}

// Close closes the store.
func (l *local) Close() error { return l.st.Close() }
