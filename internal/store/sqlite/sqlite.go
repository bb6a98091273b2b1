// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode, created 0600 in a 0700 directory. Its SQL is
// store/sqlstore's; this package holds the SQLite dialect, the migrations,
// Open, the audit append on prepared driver statements and the lock files.
//
// Writes go through one connection, so writers in a process queue in Go
// rather than spin on SQLite's lock; writers in other processes wait up to
// the busy timeout. Every write transaction begins IMMEDIATE, taking the
// database's write lock at once: rows need no locks of their own. Reads
// use a separate pool of read-only connections and run while a write is in
// progress.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// BusyTimeout is how long a write waits for another process's write lock.
const BusyTimeout = 10 * time.Second

// DB is the SQLite store.
type DB struct {
	*sqlstore.Store
	path  string
	write *sql.DB    // one connection: every write transaction
	audit auditStmts // AppendAudit, prepared on the write connection
}

var _ store.Store = (*DB)(nil)

// dialect is SQLite's: times in Unix microseconds, the database locked by
// BEGIN IMMEDIATE rather than rows, statements prepared once.
func dialect(path string) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:        "sqlite",
		Prepare:     true,
		VersionList: `group_concat(x.version)`,
		Positional:  true,
		// Checkpoint the WAL every 64 MiB rather than every 4 MiB while
		// re-encrypting: fewer, larger checkpoints and fewer fsyncs on
		// the write connection, which is the serial stage of a
		// re-encryption. The setting stays on the connection for the
		// rest of the process.
		SwapPrologue: `PRAGMA wal_autocheckpoint = 16384`,
		Swap:         swapSQL,
		SwapChunk:    swapChunk,
		Classify:     func(err error) error { return classify(path, err) },
	}
}

// types are the column types of the shared migrations on SQLite.
var types = sqlstore.Types{
	ID:    "INTEGER",
	Int64: "INTEGER",
	Time:  "INTEGER",
	Bytes: "BLOB",
}

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
	d := dialect(path)
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
	st, err := sqlstore.Open(ctx, d, goose.DialectSQLite3, migrations, r, w)
	if err != nil {
		return nil, err
	}
	return &DB{Store: st, path: path, write: w}, nil
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

// classify is the dialect's Classify for the store at path.
func classify(path string, err error) error {
	var se *sqlite.Error
	code := 0
	if errors.As(err, &se) {
		code = se.Code()
	}
	switch {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	case code&0xff == sqlite3.SQLITE_BUSY:
		return fmt.Errorf("%w: %s stayed locked by another process for %v", store.ErrUnavailable, path, BusyTimeout)
	case code&0xff == sqlite3.SQLITE_READONLY, strings.Contains(err.Error(), "read-only"):
		return fmt.Errorf("%w: %s", store.ErrNotWritable, path)
	case code&0xff == sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%s is not a SQLite database", path)
	}
	return nil
}

// Path returns the store's file name.
func (d *DB) Path() string { return d.path }

// Close closes the store.
func (d *DB) Close() error {
	d.audit.close(d.write)
	return d.Store.Close()
}
