// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode, created 0600 in a 0700 directory.
//
// Writes go through one connection, so writers in a process queue in Go
// rather than spin on SQLite's lock; writers in other processes wait up to
// the busy timeout. Reads use a separate pool of read-only connections and
// run while a write is in progress.
//
// Other files of this package add methods to [DB] for their own tables;
// they use d.read for queries and d.withTx for writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

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

// BusyTimeout is how long a write waits for another process's write lock.
const BusyTimeout = 10 * time.Second

// DB is the SQLite store.
type DB struct {
	path  string
	write *sql.DB // one connection: every write transaction
	read  *sql.DB // read-only connections

	getStmt        *sql.Stmt // Get, the hot path, prepared once per connection
	getCurrentMu   sync.Mutex
	getCurrentStmt *sql.Stmt  // GetCurrent, prepared at first use (a store opened by an older schema has no generation)
	put            putStmts   // Put and PutMany, prepared on the write connection
	audit          auditStmts // AppendAudit, prepared on the write connection
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the store at path, an absolute file
// name, and migrates it to the newest embedded schema. It refuses a store
// migrated by a newer binary with a *store.SchemaError, and a file or
// directory it cannot write with store.ErrNotWritable.
func Open(ctx context.Context, path string) (*DB, error) {
	return openWith(ctx, path, Migrations())
}

func openWith(ctx context.Context, path string, migrations fs.FS) (*DB, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("sqlite: store path must be absolute")
	}
	if strings.ContainsAny(path, "?#\x00") {
		return nil, fmt.Errorf("sqlite: store path may not contain '?', '#' or NUL")
	}
	if err := prepareFile(path); err != nil {
		return nil, err
	}
	pragmas := url.Values{}
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(1)",
		"temp_store(MEMORY)",
		"cache_size(-16000)",
	} {
		pragmas.Add("_pragma", p)
	}
	wq := pragmas
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	d := &DB{path: path, write: w}
	if err := d.migrate(ctx, migrations); err != nil {
		w.Close()
		return nil, err
	}
	if err := d.preparePut(ctx); err != nil {
		w.Close()
		return nil, d.classify("preparing queries", err)
	}
	rq := url.Values{}
	rq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	rq.Add("_pragma", "query_only(1)")
	rq.Add("_pragma", "cache_size(-16000)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	d.read = r
	if d.getStmt, err = r.PrepareContext(ctx, getQuery); err != nil {
		d.Close()
		return nil, d.classify("preparing queries", err)
	}
	return d, nil
}

// prepareFile creates the store's directory (0700) and file (0600) before
// SQLite opens them, and checks the file can be written.
func prepareFile(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return notWritable(dir, err)
		}
		_ = os.Chmod(dir, 0o700)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return notWritable(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return notWritable(path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", store.ErrNotWritable, path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return notWritable(path, err)
		}
	}
	return nil
}

func notWritable(path string, err error) error {
	reason := "cannot be created or opened for writing"
	switch {
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied"
	case errors.Is(err, syscall.EROFS):
		reason = "read-only file system"
	case errors.Is(err, syscall.ENOTDIR):
		reason = "a parent is not a directory"
	case errors.Is(err, syscall.EISDIR):
		reason = "is a directory"
	}
	return fmt.Errorf("%w: %s: %s", store.ErrNotWritable, path, reason)
}

// migrate applies pending migrations, after refusing a newer schema.
func (d *DB) migrate(ctx context.Context, migrations fs.FS) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, d.write, migrations)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return d.classify("reading the schema version", err)
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
			return d.classify("migrating", err)
		}
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the store.
func (d *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := d.read.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v.Int64, err
}

// classify turns low-level failures into clear errors.
func (d *DB) classify(what string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only") || strings.Contains(msg, "SQLITE_READONLY") {
		return fmt.Errorf("%w: %s: %s", store.ErrNotWritable, d.path, what)
	}
	if strings.Contains(msg, "not a database") || strings.Contains(msg, "SQLITE_NOTADB") {
		return fmt.Errorf("sqlite: %s is not a SQLite database", d.path)
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// Path returns the store's file name.
func (d *DB) Path() string { return d.path }

// Close closes the store.
func (d *DB) Close() error {
	var errR error
	for _, st := range []*sql.Stmt{d.getStmt, d.getCurrentStmtIfAny(), d.put.sel, d.put.insSecret, d.put.insVersion, d.put.update} {
		if st != nil {
			st.Close()
		}
	}
	d.audit.close(d.write)
	if d.read != nil {
		errR = d.read.Close()
	}
	return errors.Join(errR, d.write.Close())
}

// withTx runs fn in one write transaction (BEGIN IMMEDIATE), committing if
// fn returns nil.
func (d *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return d.classify("beginning a write", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.classify("committing", err)
	}
	return nil
}

// Times are stored as Unix microseconds; NULL is the zero time.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNull(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}
