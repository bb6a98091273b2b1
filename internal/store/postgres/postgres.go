// Package postgres is the store for several nodes sharing one PostgreSQL
// database (pgx/v5). Writes to one secret are serialised with row locks, so
// concurrent writers on any node never lose an update; migrations run under
// an advisory lock, so nodes starting together migrate once.
//
// Other files of this package add methods to [DB] for their own tables;
// they use d.pool for queries and d.withTx for writes.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations returns the embedded migrations, one file per schema version.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return sub
}

// DB is the PostgreSQL store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

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
	d := &DB{pool: pool}
	if err := d.migrate(ctx, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
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

func (d *DB) migrate(ctx context.Context, migrations fs.FS) error {
	sqlDB := stdlib.OpenDBFromPool(d.pool)
	defer sqlDB.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	src := p.ListSources()
	known := int64(0)
	if len(src) > 0 {
		known = src[len(src)-1].Version
	}
	if err := store.CheckSchema(cur, known); err != nil {
		return err
	}
	if cur < known {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("postgres: migrating: %w", err)
		}
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the database.
func (d *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v *int64
	err := d.pool.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if v == nil {
		return 0, err
	}
	return *v, err
}

// Pool returns the connection pool.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Close closes the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// writeTx is withTx for a transaction that changes secrets or versions:
// its first statement moves the store generation, so that every such
// transaction takes the generation's row lock before any lock on a secret
// or a version row (migration 00005), and two of them cannot deadlock.
func (d *DB) writeTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return d.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE store_generation SET n = n + 1 WHERE id = 1`); err != nil {
			return fmt.Errorf("postgres: moving the store generation: %w", err)
		}
		return fn(tx)
	})
}

// withTx runs fn in one transaction, committing if fn returns nil.
func (d *DB) withTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: committing: %w", err)
	}
	return nil
}

// nt is a nullable timestamp: nil for the zero time.
func nt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func fromPtr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
