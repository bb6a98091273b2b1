package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// dumpBatch is how many rows a Snapshot hands its callback at a time.
const dumpBatch = 1000

// Snapshot implements store.Dumps: one read transaction on the read pool,
// begun with the dialect's SnapshotTx options and pinned by a first read,
// so that every table is read as of that instant while writers go on.
func (s *Store) Snapshot(ctx context.Context) (store.Snapshot, error) {
	opts := s.d.SnapshotTx
	tx, err := s.read.BeginTx(ctx, &opts)
	if err != nil {
		return nil, s.Fail("beginning a snapshot", err)
	}
	// A deferred transaction (SQLite) takes its snapshot at its first
	// read: take it now.
	var n int64
	if err := tx.QueryRowContext(ctx, GenerationQuery).Scan(&n); err != nil {
		_ = tx.Rollback()
		return nil, s.Fail("beginning a snapshot", err)
	}
	return &snapshot{s: s, tx: tx}, nil
}

type snapshot struct {
	s  *Store
	tx *sql.Tx
}

func (sn *snapshot) Close() error { return sn.tx.Rollback() }

// stream runs q in tx and hands fn the rows scan makes, dumpBatch at a time.
func stream[T any](ctx context.Context, s *Store, tx *sql.Tx, what, q string, scan func(Scanner) (T, error), fn func([]T) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return s.Fail(what, err)
	}
	defer rows.Close()
	buf := make([]T, 0, dumpBatch)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return s.Fail(what, err)
		}
		if buf = append(buf, v); len(buf) == dumpBatch {
			if err := fn(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return s.Fail(what, err)
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

func (sn *snapshot) Keys(ctx context.Context, fn func([]store.KeyInfo) error) error {
	return stream(ctx, sn.s, sn.tx, "reading keys", `SELECT `+keyColumns+` FROM keys ORDER BY created_at, key_id`, scanKey, fn)
}

func (sn *snapshot) Secrets(ctx context.Context, fn func([]store.Secret) error) error {
	return stream(ctx, sn.s, sn.tx, "reading secrets", `SELECT `+SecretColumns+` FROM secrets s ORDER BY s.id`,
		func(r Scanner) (store.Secret, error) { return ScanSecret(r) }, fn)
}

func (sn *snapshot) Versions(ctx context.Context, fn func([]store.Version) error) error {
	return stream(ctx, sn.s, sn.tx, "reading versions", `SELECT id, secret_id, version, token, key_id, binding, created_at, actor,
		destroyed_at, compromised_at FROM versions ORDER BY id`, func(r Scanner) (store.Version, error) {
		var v store.Version
		err := r.Scan(&v.ID, &v.SecretID, &v.Version, &v.Token, &v.KeyID, &v.Binding, at(&v.CreatedAt), &v.Actor,
			at(&v.DestroyedAt), at(&v.CompromisedAt))
		if len(v.Binding) == 0 {
			v.Binding = nil // a destroyed version's: SQLite gives nil, PostgreSQL an empty slice
		}
		return v, err
	}, fn)
}

func (sn *snapshot) Tokens(ctx context.Context, fn func([]token.Record) error) error {
	return stream(ctx, sn.s, sn.tx, "reading token records", `SELECT `+tokenColumns+` FROM tokens ORDER BY accessor`,
		func(r Scanner) (token.Record, error) {
			var t token.Record
			var hash []byte
			err := r.Scan(&t.Accessor, &hash, &t.Service, at(&t.IssuedAt), at(&t.ExpiresAt), at(&t.MaxExpiry), at(&t.RevokedAt))
			if err == nil && len(hash) != len(t.Hash) {
				err = fmt.Errorf("token record %s with a malformed hash", t.Accessor)
			}
			copy(t.Hash[:], hash)
			return t, err
		}, fn)
}

func (sn *snapshot) Identities(ctx context.Context, fn func([]identity.Identity) error) error {
	return stream(ctx, sn.s, sn.tx, "reading identities", `SELECT `+identityColumns+` FROM identities ORDER BY name`, scanIdentity, fn)
}

func (sn *snapshot) Credentials(ctx context.Context, fn func([]identity.Credential) error) error {
	return stream(ctx, sn.s, sn.tx, "reading credentials", `SELECT `+credentialColumns+` FROM credentials ORDER BY id`,
		func(r Scanner) (identity.Credential, error) { return scanCredential(r, sn.s.d.Name) }, fn)
}

func (sn *snapshot) Incidents(ctx context.Context, fn func([]*incident.Incident) error) error {
	return stream(ctx, sn.s, sn.tx, "reading incidents", `SELECT data FROM incidents ORDER BY opened_ns, id`, sn.s.scanIncident, fn)
}

func (sn *snapshot) AuditKeys(ctx context.Context, fn func([]store.AuditKey) error) error {
	return stream(ctx, sn.s, sn.tx, "reading audit keys", `SELECT key_id, wrapped, created_ns FROM audit_keys ORDER BY created_ns, key_id`,
		func(r Scanner) (store.AuditKey, error) {
			var k store.AuditKey
			var ns int64
			err := r.Scan(&k.KeyID, &k.Wrapped, &ns)
			k.CreatedAt = time.Unix(0, ns).UTC()
			return k, err
		}, fn)
}

func (sn *snapshot) AuditCheckpoints(ctx context.Context, fn func([]audit.Checkpoint) error) error {
	return stream(ctx, sn.s, sn.tx, "reading audit checkpoints", `SELECT seq, hash, time_ns, key_id, mac FROM audit_checkpoints ORDER BY id`,
		func(r Scanner) (audit.Checkpoint, error) {
			var cp audit.Checkpoint
			var ns int64
			err := r.Scan(&cp.Seq, &cp.Hash, &ns, &cp.KeyID, &cp.MAC)
			cp.Time = time.Unix(0, ns).UTC()
			return cp, err
		}, fn)
}

func (sn *snapshot) AuditEvents(ctx context.Context, fn func([]audit.Entry) error) error {
	return stream(ctx, sn.s, sn.tx, "reading audit events", `SELECT `+auditColumns+` FROM audit_events ORDER BY seq`, scanEntry, fn)
}

func (sn *snapshot) AuditCursors(ctx context.Context, fn func([]store.AuditCursor) error) error {
	return stream(ctx, sn.s, sn.tx, "reading audit cursors", `SELECT name, seq FROM audit_cursors ORDER BY name`,
		func(r Scanner) (store.AuditCursor, error) {
			var c store.AuditCursor
			err := r.Scan(&c.Name, &c.Seq)
			return c, err
		}, fn)
}

// scanEntry reads auditColumns.
func scanEntry(r Scanner) (audit.Entry, error) {
	var e audit.Entry
	var ns int64
	err := r.Scan(&e.Seq, &e.Prev, &e.Hash, &ns, &e.Service, &e.Actor, &e.Action, &e.Secret,
		&e.Version, &e.Outcome, &e.Reason, &e.RequestID, &e.Source, &e.Detail, &e.DecisionID)
	e.Time = time.Unix(0, ns).UTC()
	return e, err
}

// LoadTables are the tables a load requires empty, and fills: every table
// of the schema but goose's and the store generation. A table added to the
// schema is added here, to Snapshot and Loader, and as a section of the
// backup format (docs/backup.md), or backups would drop it; a test of each
// driver compares this list with the schema.
var LoadTables = []string{"secrets", "versions", "keys", "tokens", "identities", "credentials", "incidents",
	"audit_keys", "audit_events", "audit_checkpoints", "audit_cursors"}

// Load implements store.Dumps: one write transaction that first takes the
// dialect's LoadPrologue (PostgreSQL bounds its lock waits, locks the
// tables, so no node writes into a store being loaded, and sets the
// secondary indexes of the two large tables aside) and checks that every
// table is empty.
func (s *Store) Load(ctx context.Context) (store.Loader, error) {
	l := &loader{s: s, stmts: map[string]*sql.Stmt{}}
	var err error
	if s.d.Copy != nil {
		// The dialect copies on the connection of the transaction.
		if l.conn, err = s.write.Conn(ctx); err != nil {
			return nil, s.Fail("beginning a load", err)
		}
		l.tx, err = l.conn.BeginTx(ctx, nil)
	} else {
		l.tx, err = s.write.BeginTx(ctx, nil)
	}
	if err != nil {
		l.release()
		return nil, s.Fail("beginning a load", err)
	}
	tx := l.tx
	for _, q := range append([]string{s.d.LoadBegin, s.d.WritePrologue}, s.d.LoadPrologue...) {
		if q == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			_ = l.Rollback()
			return nil, s.Fail("beginning a load", err)
		}
	}
	var exists []string
	for _, t := range LoadTables {
		exists = append(exists, `EXISTS (SELECT 1 FROM `+t+`)`)
	}
	var full int
	err = tx.QueryRowContext(ctx, `SELECT CASE WHEN `+strings.Join(exists, " OR ")+` THEN 1 ELSE 0 END`).Scan(&full)
	if err == nil && full != 0 {
		err = store.ErrNotEmpty
	}
	if err != nil {
		_ = l.Rollback()
		if err == store.ErrNotEmpty {
			return nil, fmt.Errorf("%s: %w: it holds secrets, keys, tokens, identities, incidents, audit keys or audit events", s.d.Name, err)
		}
		return nil, s.Fail("checking the store is empty", err)
	}
	return l, nil
}

// loader inserts rows with the dialect's Copy on conn, the connection of
// tx, or else in multi-row INSERTs of at most loadRows rows (and
// loadParams parameters), the full-size statement of each table prepared
// once in the transaction.
type loader struct {
	s     *Store
	conn  *sql.Conn // nil unless the dialect copies
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	args  []any
}

// release gives conn back to the pool, once tx has ended.
func (l *loader) release() {
	if l.conn != nil {
		_ = l.conn.Close()
		l.conn = nil
	}
}

const (
	loadRows   = 500
	loadParams = 30000 // under SQLite's 32,766 and PostgreSQL's 65,535
)

// insert stores rows (each len(cols) values, flattened in args) into table.
func (l *loader) insert(ctx context.Context, table string, cols []string, args []any) error {
	if l.s.d.Copy != nil {
		if err := l.s.d.Copy(ctx, l.conn, table, cols, args); err != nil {
			return l.s.Fail("loading "+table, err)
		}
		return nil
	}
	width := len(cols)
	per := min(loadRows, loadParams/width)
	for len(args) > 0 {
		n := min(per, len(args)/width)
		q := insertSQL(table, cols, n, l.s.d.Positional)
		var err error
		if n == per {
			st, ok := l.stmts[table]
			if !ok {
				if st, err = l.tx.PrepareContext(ctx, q); err != nil {
					return l.s.Fail("loading "+table, err)
				}
				l.stmts[table] = st
			}
			_, err = st.ExecContext(ctx, args[:n*width]...)
		} else {
			_, err = l.tx.ExecContext(ctx, q, args[:n*width]...)
		}
		if err != nil {
			return l.s.Fail("loading "+table, err)
		}
		args = args[n*width:]
	}
	return nil
}

func insertSQL(table string, cols []string, rows int, positional bool) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `)
	p := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			if positional {
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", p)
			}
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// rows resets the argument buffer.
func (l *loader) rows() []any { l.args = l.args[:0]; return l.args }

func (l *loader) Keys(ctx context.Context, ks []store.KeyInfo) error {
	a := l.rows()
	for _, k := range ks {
		a = append(a, l.s.keyArgs(k)...)
	}
	l.args = a
	return l.insert(ctx, "keys", strings.Split(keyColumns, ", "), a)
}

var secretLoadCols = []string{"id", "name", "class", "rotation_period", "description", "owner", "env_name",
	"created_at", "updated_at", "deleted_at", "current_version", "state_mac"}

func (l *loader) Secrets(ctx context.Context, ss []store.Secret) error {
	a := l.rows()
	for _, x := range ss {
		a = append(a, x.ID, x.Name, x.Class, int64(x.RotationPeriod/time.Second), x.Description, x.Owner, x.EnvName,
			l.s.Time(x.CreatedAt), l.s.Time(x.UpdatedAt), l.s.NullTime(x.DeletedAt), x.CurrentVersion, nullBytes(x.StateMAC))
	}
	l.args = a
	return l.insert(ctx, "secrets", secretLoadCols, a)
}

var versionLoadCols = []string{"id", "secret_id", "version", "token", "key_id", "binding", "created_at", "actor",
	"destroyed_at", "compromised_at"}

func (l *loader) Versions(ctx context.Context, vs []store.Version) error {
	a := l.rows()
	for _, v := range vs {
		b := v.Binding
		if b == nil {
			b = []byte{}
		}
		a = append(a, v.ID, v.SecretID, v.Version, v.Token, v.KeyID, b, l.s.Time(v.CreatedAt), v.Actor,
			l.s.NullTime(v.DestroyedAt), l.s.NullTime(v.CompromisedAt))
	}
	l.args = a
	return l.insert(ctx, "versions", versionLoadCols, a)
}

func (l *loader) Tokens(ctx context.Context, ts []token.Record) error {
	a := l.rows()
	for _, t := range ts {
		a = append(a, t.Accessor, t.Hash[:], t.Service, l.s.Time(t.IssuedAt), l.s.Time(t.ExpiresAt), l.s.Time(t.MaxExpiry), l.s.NullTime(t.RevokedAt))
	}
	l.args = a
	return l.insert(ctx, "tokens", strings.Split(tokenColumns, ", "), a)
}

func (l *loader) Identities(ctx context.Context, ids []identity.Identity) error {
	a := l.rows()
	for _, id := range ids {
		a = append(a, id.Name, string(id.Kind), string(id.Role), l.s.Time(id.CreatedAt), l.s.NullTime(id.RevokedAt))
	}
	l.args = a
	return l.insert(ctx, "identities", strings.Split(identityColumns, ", "), a)
}

func (l *loader) Credentials(ctx context.Context, cs []identity.Credential) error {
	a := l.rows()
	for _, c := range cs {
		a = append(a, c.ID, c.Identity, c.Hash[:], l.s.Time(c.CreatedAt), l.s.Time(c.ExpiresAt), l.s.NullTime(c.RevokedAt))
	}
	l.args = a
	return l.insert(ctx, "credentials", strings.Split(credentialColumns, ", "), a)
}

func (l *loader) Incidents(ctx context.Context, is []*incident.Incident) error {
	a := l.rows()
	for _, inc := range is {
		data, err := incidentJSON(inc)
		if err != nil {
			return err
		}
		a = append(a, inc.ID, inc.Secret, inc.Version, inc.OpenedAt.UnixNano(), closedNanos(inc), data)
	}
	l.args = a
	return l.insert(ctx, "incidents", []string{"id", "secret", "version", "opened_ns", "closed_ns", "data"}, a)
}

func (l *loader) AuditKeys(ctx context.Context, ks []store.AuditKey) error {
	a := l.rows()
	for _, k := range ks {
		a = append(a, k.KeyID, k.Wrapped, k.CreatedAt.UnixNano())
	}
	l.args = a
	return l.insert(ctx, "audit_keys", []string{"key_id", "wrapped", "created_ns"}, a)
}

func (l *loader) AuditCheckpoints(ctx context.Context, cps []audit.Checkpoint) error {
	a := l.rows()
	for _, cp := range cps {
		row := CheckpointRow(cp)
		a = append(a, row[:]...)
	}
	l.args = a
	return l.insert(ctx, "audit_checkpoints", []string{"seq", "hash", "time_ns", "key_id", "mac"}, a)
}

func (l *loader) AuditEvents(ctx context.Context, es []audit.Entry) error {
	a := l.rows()
	for _, e := range es {
		row := AuditRow(e)
		a = append(a, row[:]...)
	}
	l.args = a
	return l.insert(ctx, "audit_events", AuditColumns, a)
}

func (l *loader) AuditCursors(ctx context.Context, cs []store.AuditCursor) error {
	a := l.rows()
	for _, c := range cs {
		a = append(a, c.Name, c.Seq)
	}
	l.args = a
	return l.insert(ctx, "audit_cursors", []string{"name", "seq"}, a)
}

// Commit implements store.Loader: the dialect's LoadEpilogue (PostgreSQL
// moves its ID sequences past the loaded rows), then the commit.
func (l *loader) Commit(ctx context.Context) error {
	for _, q := range l.s.d.LoadEpilogue {
		if _, err := l.tx.ExecContext(ctx, q); err != nil {
			_ = l.Rollback()
			return l.s.Fail("finishing a load", err)
		}
	}
	err := l.tx.Commit()
	l.release()
	if err != nil {
		return l.s.Fail("committing a load", err)
	}
	return nil
}

func (l *loader) Rollback() error {
	err := l.tx.Rollback()
	l.release()
	if err == sql.ErrTxDone {
		return nil
	}
	return err
}

// nullBytes is b, or NULL when b is empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
