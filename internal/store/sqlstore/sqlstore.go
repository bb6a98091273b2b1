// Package sqlstore is the SQL of both store drivers: one implementation of
// [store.Store] over database/sql, parameterised by a [Dialect] that holds
// what really differs between SQLite and PostgreSQL.
//
// Every statement is written once, with $1, $2, ... placeholders: pgx
// takes them, and modernc.org/sqlite binds $N to the Nth argument. What
// the dialect decides is how times are stored (Unix microseconds or
// timestamptz), how a writer locks what it is about to write (SQLite's
// BEGIN IMMEDIATE locks the database; PostgreSQL locks rows with FOR
// UPDATE, after moving the store generation), how a batch of token swaps
// is one statement (VALUES or unnest), which statements are prepared once,
// and how driver errors become the store's sentinel errors.
//
// The schema is sqlstore's too: [Migrations] gives a driver the migrations
// both run, in its column types, beside its own for the steps that differ.
//
// A driver (store/sqlite, store/postgres) opens its connections, runs its
// migrations with [Migrate], and embeds the [*Store] that [New] returns in
// its own DB type. That type adds what is not SQL at all: the rotation and
// publisher locks (a lock file beside a SQLite database, an advisory lock on
// PostgreSQL) and the audit append, whose transaction each driver runs its
// own way around the shared [AppendChain].
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Dialect is what differs between the databases the store runs on.
type Dialect struct {
	// Name starts every error of the store ("sqlite", "postgres").
	Name string
	// Timestamps stores times as timestamp with time zone; otherwise
	// they are Unix microseconds in an INTEGER column. NULL is the zero
	// time either way.
	Timestamps bool
	// ForUpdate ends a SELECT of a row the transaction then writes:
	// " FOR UPDATE" where writers lock rows, "" where a write transaction
	// already holds the whole database.
	ForUpdate string
	// Collate follows a comparison or ORDER BY on names so that they
	// compare bytewise, as on SQLite (BINARY): ` COLLATE "C"` on
	// PostgreSQL, whose database collation may be another.
	Collate string
	// WritePrologue, if set, is the first statement of every transaction
	// that changes secrets or versions. PostgreSQL moves the store
	// generation there, so every such writer takes the generation's row
	// lock before any other and no two deadlock (migration 00005).
	WritePrologue string
	// ChainLock, if set, takes the audit chain's lock inside a write
	// transaction that appends its own audit event (store.Write.Audit):
	// PostgreSQL's advisory lock. SQLite's write transaction already
	// holds the whole database.
	ChainLock string
	// SwapPrologue, if set, starts each transaction of SwapTokens (a
	// re-encryption batch), after WritePrologue.
	SwapPrologue string
	// Prepare prepares the hot statements once (on first use) rather than
	// sending their text each time. SQLite's driver parses every query it
	// is given; pgx caches prepared statements by their text itself.
	Prepare bool
	// Swap returns one statement that applies a chunk of token swaps
	// (compare-and-swap on each old token, destroyed versions untouched)
	// and returns the IDs of the versions it changed, and its arguments.
	Swap func(swaps []store.TokenSwap) (query string, args []any)
	// SwapChunk is how many swaps one Swap statement takes at most (0:
	// all of them).
	SwapChunk int
	// PutMany, if set, applies the writes of a PutMany in tx, which
	// WriteTx began: PostgreSQL's bulk form, a few statements over arrays
	// per chunk of writes. Unset, each write is one put.
	PutMany func(ctx context.Context, s *Store, tx *sql.Tx, ws []store.Write) error
	// Positional makes the many-row statements of a Load use ?
	// placeholders: modernc.org/sqlite finds each $N by its name, a
	// search that grows with the statement's parameters.
	Positional bool
	// SnapshotTx are the options of a Snapshot's read transaction:
	// REPEATABLE READ on PostgreSQL; none on SQLite, whose read
	// transaction sees one WAL snapshot from its first read.
	SnapshotTx sql.TxOptions
	// LoadBegin, if set, is the first statement of a Load, before
	// WritePrologue: PostgreSQL bounds there how long the load waits for
	// each lock it takes, so that a load into a store another session
	// holds fails rather than waits for it.
	LoadBegin string
	// LoadPrologue follows WritePrologue in a Load: PostgreSQL locks the
	// tables it fills, so no other node writes meanwhile, and sets their
	// secondary indexes aside, to build them once the rows are in.
	LoadPrologue []string
	// Copy, if set, fills table from args (rows of len(cols) values,
	// flattened) on conn, whose transaction a Load holds open: PostgreSQL
	// sends them with COPY, several times faster than INSERTs. Unset, a
	// Load sends multi-row INSERTs.
	Copy func(ctx context.Context, conn *sql.Conn, table string, cols []string, args []any) error
	// LoadEpilogue runs before a Load commits: PostgreSQL builds the
	// indexes its prologue set aside and moves its ID sequences past the
	// IDs loaded.
	LoadEpilogue []string
	// VersionList is an aggregate of the column x.version into one text
	// of comma-separated numbers, in any order: group_concat on SQLite,
	// string_agg on PostgreSQL. It reads the version sets a state MAC
	// covers (store.State).
	VersionList string
	// Classify returns the error to report for a driver error that means
	// more than its message: wrapping store.ErrConflict (a unique
	// violation), store.ErrUnavailable (the database cannot be reached,
	// or stays locked) or store.ErrNotWritable. It returns nil for the
	// others.
	Classify func(err error) error
}

// Store is the SQL store over a dialect. Reads go to the read pool and
// writes to the write pool; a driver may pass one pool as both.
type Store struct {
	d           Dialect
	read, write *sql.DB

	// The hot statements: the read path, and the statements of a put.
	get, getCurrent                             readStmt
	putSelectQ                                  string    // the put's SELECT of the secret's row, locking it where rows are locked
	putSelect, putCreate, putVersion, putUpdate *sql.Stmt // on the write pool; nil unless Dialect.Prepare
}

// New returns the store over read and write, which must hold a schema
// migrated by the driver. Close closes both.
func New(ctx context.Context, d Dialect, read, write *sql.DB) (*Store, error) {
	s := &Store{d: d, read: read, write: write,
		get: readStmt{q: getQuery(d)}, getCurrent: readStmt{q: getCurrentQuery(d)},
		putSelectQ: `SELECT ` + SecretColumns + `, ` + d.stateColumns() + ` FROM secrets s WHERE s.name = $1` + d.ForUpdate}
	if d.Prepare {
		// The statements of a put, prepared now: within a transaction
		// the write pool may have no connection to prepare on (SQLite's
		// has one, and the transaction holds it).
		for _, p := range []struct {
			dst **sql.Stmt
			q   string
		}{{&s.putSelect, s.putSelectQ}, {&s.putCreate, putCreate}, {&s.putVersion, putVersion}, {&s.putUpdate, putUpdate}} {
			st, err := write.PrepareContext(ctx, p.q)
			if err != nil {
				s.closeStmts()
				return nil, s.Fail("preparing queries", err)
			}
			*p.dst = st
		}
	}
	return s, nil
}

// readStmt is a statement of the read path: with Dialect.Prepare,
// prepared on the read pool at its first use (a store opened with older
// migrations may lack a table it reads).
type readStmt struct {
	q  string
	mu sync.Mutex
	st atomic.Pointer[sql.Stmt]
}

// row runs r's one-row query on the read pool.
func (s *Store) row(ctx context.Context, r *readStmt, args ...any) Scanner {
	if !s.d.Prepare {
		return s.read.QueryRowContext(ctx, r.q, args...)
	}
	st := r.st.Load()
	if st == nil {
		r.mu.Lock()
		if st = r.st.Load(); st == nil {
			var err error
			if st, err = s.read.PrepareContext(ctx, r.q); err != nil {
				r.mu.Unlock()
				return errRow{s.Fail("preparing a query", err)}
			}
			r.st.Store(st)
		}
		r.mu.Unlock()
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the prepared statements and both pools.
func (s *Store) Close() error {
	s.closeStmts()
	if s.read == s.write {
		return s.write.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

func (s *Store) closeStmts() {
	for _, st := range []*sql.Stmt{s.get.st.Load(), s.getCurrent.st.Load(), s.putSelect, s.putCreate, s.putVersion, s.putUpdate} {
		if st != nil {
			st.Close()
		}
	}
}

// Guards implements audit.Guarding: AppendChain reads the store's
// generation into the head when a batch holds a guarded event.
func (s *Store) Guards() bool { return true }

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v.Int64, err
}

// Fail wraps err, a failure while doing what, as the store reports it: the
// dialect's classification when it has one.
func (s *Store) Fail(what string, err error) error { return s.d.Fail(what, err) }

// Fail wraps err, a failure while doing what, as a store of this dialect
// reports it: the dialect's classification when it has one.
func (d Dialect) Fail(what string, err error) error {
	if c := d.Classify(err); c != nil {
		return fmt.Errorf("%s: %s: %w", d.Name, what, c)
	}
	return fmt.Errorf("%s: %s: %w", d.Name, what, err)
}

// Open migrates the database on write to the newest of migrations (goose,
// in the given goose dialect) and returns the store over read and write.
// It refuses a database migrated by a newer binary with a
// *store.SchemaError. On error, it closes read and write.
func Open(ctx context.Context, d Dialect, gd goose.Dialect, migrations fs.FS, read, write *sql.DB, opts ...goose.ProviderOption) (*Store, error) {
	p, err := goose.NewProvider(gd, write, migrations, opts...)
	if err != nil {
		err = fmt.Errorf("%s: migrations: %w", d.Name, err)
	}
	var s *Store
	if err == nil {
		err = d.Migrate(ctx, p)
	}
	if err == nil {
		s, err = New(ctx, d, read, write)
	}
	if err != nil {
		if read != write {
			read.Close()
		}
		write.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies p's pending migrations, after refusing a database
// migrated by a newer binary with a *store.SchemaError.
func (d Dialect) Migrate(ctx context.Context, p *goose.Provider) error {
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return d.Fail("reading the schema version", err)
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
			return d.Fail("migrating", err)
		}
	}
	return nil
}

// Tx runs fn in one transaction on the write pool, committing if fn
// returns nil. Errors of fn are returned as they are.
func (s *Store) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.Fail("beginning a write", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.Fail("committing", err)
	}
	return nil
}

// WriteTx is Tx for a transaction that changes secrets or versions: it
// runs the dialect's WritePrologue first.
func (s *Store) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		if s.d.WritePrologue != "" {
			if _, err := tx.ExecContext(ctx, s.d.WritePrologue); err != nil {
				return s.Fail("moving the store generation", err)
			}
		}
		return fn(tx)
	})
}

// Scanner is a row, or rows at a row.
type Scanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// collect runs q on the read pool and calls scan at each row.
func (s *Store) collect(ctx context.Context, what string, scan func(Scanner) error, q string, args ...any) error {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err == nil {
		err = each(rows, scan)
	}
	if err != nil {
		return s.Fail(what, err)
	}
	return nil
}

// rowsOf runs q on the read pool and appends each of its rows, read by
// scan, to dst.
func rowsOf[T any](ctx context.Context, s *Store, dst []T, what string, scan func(Scanner) (T, error), q string, args ...any) ([]T, error) {
	err := s.collect(ctx, what, func(r Scanner) error {
		v, err := scan(r)
		dst = append(dst, v)
		return err
	}, q, args...)
	return dst, err
}

// walkByID calls fn with successive pages of at most batch (1000 if not
// positive) rows of q, keyset pagination: q selects the rows whose ID is
// above $1, in ID order, LIMIT $2, and id is a row's ID. Memory stays
// bounded by one page, which fn must not keep. An error from fn stops the
// walk and is returned.
func walkByID[T any](ctx context.Context, s *Store, batch int, what string, scan func(Scanner) (T, error), id func(T) int64, q string, fn func([]T) error) error {
	if batch < 1 {
		batch = 1000
	}
	page := make([]T, 0, batch)
	var after int64
	for {
		var err error
		if page, err = rowsOf(ctx, s, page[:0], what, scan, q, after, batch); err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		after = id(page[len(page)-1])
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < batch {
			return nil
		}
	}
}

// each calls scan at each row of rows, and closes rows.
func each(rows *sql.Rows, scan func(Scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// changed runs the single statement q on the write pool and returns how
// many rows it changed.
func (s *Store) changed(ctx context.Context, what, q string, args ...any) (int64, error) {
	res, err := s.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, s.Fail(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.Fail(what, err)
	}
	return n, nil
}

// Time is the stored form of t: Unix microseconds or a UTC time.
func (s *Store) Time(t time.Time) any {
	if s.d.Timestamps {
		return t.UTC()
	}
	return t.UnixMicro()
}

// NullTime is Time, or NULL for the zero time.
func (s *Store) NullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.Time(t)
}

// timeCol scans a stored time of either form; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("a time stored as %T", src)
	}
	return nil
}

// at scans a stored time into t.
func at(t *time.Time) timeCol { return timeCol{t} }
