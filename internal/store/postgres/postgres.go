// Package postgres is the store for several nodes sharing one PostgreSQL
// database (pgx/v5, through its database/sql driver). Its SQL is
// store/sqlstore's; this package holds the PostgreSQL dialect, the
// column types and own migrations, Open, the audit append, the bulk PutMany
// and the advisory locks.
//
// Writes to one secret are serialised with row locks (SELECT ... FOR
// UPDATE), so concurrent writers on any node never lose an update; every
// transaction that changes secrets or versions first moves the store
// generation, so writers take its row lock before any other and cannot
// deadlock (migration 00005). Migrations run under an advisory lock, so
// nodes starting together migrate once.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// DB is the PostgreSQL store.
type DB struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// dialect is PostgreSQL's: timestamptz, row locks, the generation moved
// first by every writer of secrets or versions, unnest for bulk writes.
var dialect = sqlstore.Dialect{
	Name:          "postgres",
	Timestamps:    true,
	ForUpdate:     " FOR UPDATE",
	Collate:       ` COLLATE "C"`,
	VersionList:   `string_agg(x.version::text, ',')`,
	WritePrologue: `UPDATE store_generation SET n = n + 1 WHERE id = 1`,
	ChainLock:     fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, auditLockKey),
	// A batch lost to a server crash is only redone by the next run (the
	// old key stays loaded until nothing uses it), and the synchronous
	// commit of PromoteKey flushes every batch before it: no need to wait
	// for the WAL flush of each batch.
	SwapPrologue: `SET LOCAL synchronous_commit = off`,
	Swap:         swapSQL,
	SnapshotTx:   sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	LoadBegin:    lockTimeout(LoadLockTimeout),
	// A load fills an empty store: no other node may write into it
	// meanwhile (readers still read it, empty, until the commit).
	LoadPrologue: []string{
		`LOCK TABLE secrets, versions, keys, tokens, incidents, audit_events, audit_checkpoints, audit_cursors IN EXCLUSIVE MODE`,
		// The secondary indexes of the two large tables are dropped for
		// the load and built again from their own definitions before the
		// commit, as pg_restore does: one sorted build instead of a
		// million inserts in no order. DDL is transactional: a load rolled
		// back leaves them as they were. Constraints' indexes stay.
		`CREATE TEMP TABLE sa01_load_indexes ON COMMIT DROP AS
		 SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
		 FROM pg_index i
		 WHERE i.indrelid IN ('versions'::regclass, 'audit_events'::regclass)
		   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
		`DO $$ DECLARE r record; BEGIN
		   FOR r IN SELECT name FROM sa01_load_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
		 END $$`,
	},
	LoadEpilogue: []string{
		`DO $$ DECLARE r record; BEGIN
		   FOR r IN SELECT def FROM sa01_load_indexes LOOP EXECUTE r.def; END LOOP;
		 END $$`,
		`SELECT setval(pg_get_serial_sequence('secrets', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM secrets), false)`,
		`SELECT setval(pg_get_serial_sequence('versions', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM versions), false)`,
	},
	Copy:     copyRows,
	PutMany:  putMany,
	Classify: classify,
}

// LoadLockTimeout bounds how long a load (restore, migrate) waits for
// each lock it takes: the store generation's row, which a writer holds
// until its commit, and its tables, which a reader's transaction holds
// (dropping an index waits for every reader of its table). A load into a
// store another session is using fails after it with store.ErrUnavailable,
// rather than wait for that session without end while the readers it
// queues before wait behind it.
const LoadLockTimeout = 10 * time.Second

// lockTimeout sets the lock timeout of the transaction to d.
func lockTimeout(d time.Duration) string {
	return fmt.Sprintf(`SET LOCAL lock_timeout = %d`, d.Milliseconds())
}

// types are the column types of the shared migrations on PostgreSQL.
var types = sqlstore.Types{
	ID:          "BIGSERIAL",
	Int64:       "BIGINT",
	Time:        "TIMESTAMPTZ",
	Bytes:       "BYTEA",
	SHA256Check: " CHECK (octet_length(hash) = 32)",
}

// copyRows is the dialect's Copy: pgx's CopyFrom (binary COPY) on the
// connection under conn, inside the transaction a Load began on it.
func copyRows(ctx context.Context, conn *sql.Conn, table string, cols []string, args []any) error {
	w := len(cols)
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: a %T is not a pgx connection", dc)
		}
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(len(args)/w, func(i int) ([]any, error) {
			return args[i*w : (i+1)*w], nil
		}))
		return err
	})
}

// ConnectTimeout bounds the first connection.
const ConnectTimeout = 10 * time.Second

// ParseConfig parses a postgres:// DSN. Its error never repeats the DSN.
func ParseConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("postgres: malformed DSN")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	return cfg, nil
}

// Open connects to dsn and migrates the database to the newest embedded
// schema. It refuses a database migrated by a newer binary with a
// *store.SchemaError; an unreachable database is store.ErrUnavailable.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed pool configuration (tests set
// search_path in it to work in their own schema).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*DB, error) {
	return openWith(ctx, cfg, Migrations())
}

func openWith(ctx context.Context, cfg *pgxpool.Config, migrations fs.FS) (*DB, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	pctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	// database/sql takes a pool connection for each statement or
	// transaction and gives it back after: pgx's statement cache stays
	// with the connection.
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	st, err := sqlstore.Open(ctx, dialect, goose.DialectPostgres, migrations, db, db, goose.WithSessionLocker(locker))
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{Store: st, pool: pool}, nil
}

// Exists reports whether dsn's database (in its search_path) holds a store:
// whether it was ever migrated. It creates nothing, so that only init makes
// a store.
func Exists(ctx context.Context, dsn string) (bool, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return false, err
	}
	return ExistsConfig(ctx, cfg)
}

// ExistsConfig is Exists with a parsed pool configuration.
func ExistsConfig(ctx context.Context, cfg *pgxpool.Config) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(pctx, cfg.ConnConfig)
	if err != nil {
		return false, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(pctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&ok); err != nil {
		return false, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	return ok, nil
}

// reason keeps the end of a connection error: what failed, without the
// connection parameters pgx puts first.
func reason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		msg = msg[i+2:]
	}
	return msg
}

// classify is the dialect's Classify.
func classify(err error) error {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &pe) && pe.Code == "23505": // unique_violation
		return fmt.Errorf("%w: %s", store.ErrConflict, pe.Message)
	case errors.As(err, &pe) && pe.Code == "55P03": // lock_not_available: a load's lock timeout
		return fmt.Errorf("%w: a lock it needs stayed held by another session past the lock timeout (is a node, a restore or a migrate using the store?)",
			store.ErrUnavailable)
	case errors.As(err, &pe):
		return nil
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.SafeToRetry(err), errors.Is(err, sql.ErrConnDone):
		return fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	return nil
}

// Pool returns the connection pool.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Close closes the store and its pool.
func (d *DB) Close() error {
	err := d.Store.Close()
	d.pool.Close()
	return err
}
