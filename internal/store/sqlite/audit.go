package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Audit = (*DB)(nil)

const auditColumns = `seq, prev, hash, time_ns, service, actor, action, secret, version, outcome, reason, request_id, source, detail`

// auditInsertRows is the most rows of one prepared INSERT: a batch is
// stored as whole chunks of it, then one INSERT of the rest.
const auditInsertRows = 16

const (
	auditHeadQuery       = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`
	auditInsertRow       = `(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	auditCheckpointQuery = `INSERT INTO audit_checkpoints (seq, hash, time_ns, key_id, mac) VALUES (?,?,?,?,?)`
	generationQuery      = `SELECT n FROM store_generation WHERE id = 1`
)

// auditStmts are AppendAudit's statements: driver statements prepared once
// on the write connection (at the first append: a store opened by an older
// schema has no audit table) and run on it directly. Every audited read
// commits through here, so the append skips what database/sql adds to a
// transaction (a Tx, a goroutine watching its context, wrapped statements)
// and the driver's parsing of BEGIN and COMMIT on every call. There is one
// INSERT per row count up to auditInsertRows, so that a batch of n events
// is one statement, not n.
type auditStmts struct {
	mu                                        sync.Mutex
	conn                                      any // the driver connection they were prepared on
	begin, commit, rollback, head, checkpoint driver.Stmt
	gen                                       driver.Stmt
	ins                                       [auditInsertRows + 1]driver.Stmt // ins[n] inserts n rows
}

// on returns the statements for the driver connection dc, preparing them
// when dc is not the one they were prepared on. The caller holds dc.
func (a *auditStmts) on(ctx context.Context, dc any) error {
	if a.conn == dc && a.begin != nil {
		return nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return errors.New("sqlite: the driver cannot prepare statements")
	}
	// BEGIN IMMEDIATE takes the write lock at once, so the head read below
	// cannot move until COMMIT, whichever process appends.
	qs := []string{`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`, auditHeadQuery, auditCheckpointQuery, generationQuery}
	for n := 1; n <= auditInsertRows; n++ {
		qs = append(qs, `INSERT INTO audit_events (`+auditColumns+`) VALUES `+auditInsertRow+strings.Repeat(","+auditInsertRow, n-1))
	}
	ready := make([]driver.Stmt, 0, len(qs))
	for _, q := range qs {
		st, err := pc.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range ready {
				st.Close()
			}
			return err
		}
		ready = append(ready, st)
	}
	a.conn = dc
	a.begin, a.commit, a.rollback, a.head, a.checkpoint, a.gen = ready[0], ready[1], ready[2], ready[3], ready[4], ready[5]
	copy(a.ins[1:], ready[6:])
	return nil
}

func (a *auditStmts) closeStmts() {
	for _, st := range append([]driver.Stmt{a.begin, a.commit, a.rollback, a.head, a.checkpoint, a.gen}, a.ins[1:]...) {
		if st != nil {
			st.Close()
		}
	}
	a.begin, a.commit, a.rollback, a.head, a.checkpoint, a.gen = nil, nil, nil, nil, nil, nil
	a.ins = [auditInsertRows + 1]driver.Stmt{}
}

// close closes the statements, on the write connection they were prepared
// on, before the store closes it.
func (a *auditStmts) close(w *sql.DB) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.begin == nil {
		return
	}
	c, err := w.Conn(context.Background())
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.Raw(func(dc any) error {
		if dc == a.conn {
			a.closeStmts()
		}
		return nil
	})
}

func exec(ctx context.Context, st driver.Stmt, args []driver.NamedValue) error {
	_, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	return err
}

func appendEntryArgs(args []driver.NamedValue, e audit.Entry) []driver.NamedValue {
	for _, v := range [...]driver.Value{e.Seq, e.Prev, e.Hash, e.Time.UnixNano(), e.Service, e.Actor, e.Action, e.Secret,
		int64(e.Version), e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail} {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	return args
}

// Guards implements audit.Guarding: AppendAudit reads the store's
// generation (store.Generations) into the head when a batch holds a
// guarded event.
func (d *DB) Guards() bool { return true }

// AppendAudit implements audit.Appender. It holds the write connection for
// the whole transaction (so writes of this process queue behind it), and
// its transaction begins IMMEDIATE (so writes of other processes wait).
func (d *DB) AppendAudit(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	c, err := d.write.Conn(ctx)
	if err != nil {
		return nil, d.classify("beginning a write", err)
	}
	defer c.Close()
	var out []audit.Entry
	err = c.Raw(func(dc any) error {
		d.audit.mu.Lock()
		defer d.audit.mu.Unlock()
		if err := d.audit.on(ctx, dc); err != nil {
			return d.classify("preparing queries", err)
		}
		out, err = d.audit.append(ctx, d, evs, link)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (a *auditStmts) append(ctx context.Context, d *DB, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if err := exec(ctx, a.begin, nil); err != nil {
		return nil, d.classify("beginning a write", err)
	}
	done := false
	defer func() {
		if !done {
			// not ctx: a cancelled context would interrupt the rollback
			_ = exec(context.Background(), a.rollback, nil)
		}
	}()
	head, err := a.readHead(ctx)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if ev.Guard != 0 {
			// Under the write lock: no change can move it before COMMIT.
			if head.Generation, err = a.readGeneration(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	es, cps, err := link(head, evs)
	if err != nil {
		return nil, err
	}
	args := make([]driver.NamedValue, 0, 14*min(len(es), auditInsertRows))
	for i := 0; i < len(es); {
		n := min(len(es)-i, auditInsertRows)
		args = args[:0]
		for _, e := range es[i : i+n] {
			args = appendEntryArgs(args, e)
		}
		if err := exec(ctx, a.ins[n], args); err != nil {
			return nil, fmt.Errorf("sqlite: appending audit events: %w", err)
		}
		i += n
	}
	for _, cp := range cps {
		args = args[:0]
		for _, v := range [...]driver.Value{cp.Seq, cp.Hash, cp.Time.UnixNano(), cp.KeyID, cp.MAC} {
			args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
		}
		if err := exec(ctx, a.checkpoint, args); err != nil {
			return nil, fmt.Errorf("sqlite: writing audit checkpoint: %w", err)
		}
	}
	if err := exec(ctx, a.commit, nil); err != nil {
		return nil, d.classify("committing", err)
	}
	done = true
	return es, nil
}

// readHead reads the head inside the append's transaction.
func (a *auditStmts) readHead(ctx context.Context) (audit.Head, error) {
	rows, err := a.head.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return audit.Head{}, fmt.Errorf("sqlite: reading audit head: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 2)
	if err := rows.Next(dest); err == io.EOF {
		return audit.EmptyHead, nil
	} else if err != nil {
		return audit.Head{}, fmt.Errorf("sqlite: reading audit head: %w", err)
	}
	seq, ok := dest[0].(int64)
	var hash string
	switch h := dest[1].(type) {
	case string:
		hash = h
	case []byte:
		hash = string(h)
	default:
		ok = false
	}
	if !ok {
		return audit.Head{}, errors.New("sqlite: reading audit head: unexpected column types")
	}
	return audit.Head{Seq: seq, Hash: hash}, nil
}

// readGeneration reads the store's generation inside the append's
// transaction.
func (a *auditStmts) readGeneration(ctx context.Context) (uint64, error) {
	rows, err := a.gen.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: reading the store generation: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, fmt.Errorf("sqlite: reading the store generation: %w", err)
	}
	n, ok := dest[0].(int64)
	if !ok || n <= 0 {
		return 0, errors.New("sqlite: reading the store generation: unexpected value")
	}
	return uint64(n), nil
}

type rowQueryer interface {
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

func auditHead(ctx context.Context, q rowQueryer) (audit.Head, error) {
	var h audit.Head
	err := q.QueryRowContext(ctx).Scan(&h.Seq, &h.Hash)
	if err == sql.ErrNoRows {
		return audit.EmptyHead, nil
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("sqlite: reading audit head: %w", err)
	}
	return h, nil
}

// AuditHead implements store.Audit.
func (d *DB) AuditHead(ctx context.Context) (audit.Head, error) {
	return auditHead(ctx, headQuery{d.read})
}

// headQuery reads the head through a pool, unprepared.
type headQuery struct{ db *sql.DB }

func (h headQuery) QueryRowContext(ctx context.Context, _ ...any) *sql.Row {
	return h.db.QueryRowContext(ctx, auditHeadQuery)
}

func scanEntries(rows *sql.Rows) ([]audit.Entry, error) {
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var ns int64
		if err := rows.Scan(&e.Seq, &e.Prev, &e.Hash, &ns, &e.Service, &e.Actor, &e.Action, &e.Secret,
			&e.Version, &e.Outcome, &e.Reason, &e.RequestID, &e.Source, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: reading audit events: %w", err)
		}
		e.Time = time.Unix(0, ns).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: reading audit events: %w", err)
	}
	return out, nil
}

// QueryAudit implements store.Audit.
func (d *DB) QueryAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.Secret != "" {
		add("secret = ?", q.Secret)
	}
	if q.Service != "" {
		add("service = ?", q.Service)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if !q.Since.IsZero() {
		add("time_ns >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time_ns < ?", q.Until.UnixNano())
	}
	if q.Failed {
		add("outcome = ?", audit.Failure)
	}
	if q.AfterSeq > 0 {
		add("seq > ?", q.AfterSeq)
	}
	s := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		s += ` WHERE ` + strings.Join(where, " AND ")
	}
	if q.Newest {
		s += ` ORDER BY seq DESC`
	} else {
		s += ` ORDER BY seq`
	}
	if q.Limit > 0 {
		s += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	rows, err := d.read.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: querying audit events: %w", err)
	}
	es, err := scanEntries(rows)
	if err != nil {
		return nil, err
	}
	if q.Newest {
		for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
			es[i], es[j] = es[j], es[i]
		}
	}
	return es, nil
}

// AuditAfter implements audit.Outbox.
func (d *DB) AuditAfter(ctx context.Context, after int64, limit int) ([]audit.Entry, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := d.read.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading audit events: %w", err)
	}
	return scanEntries(rows)
}

// WalkAudit implements store.Audit.
func (d *DB) WalkAudit(ctx context.Context, batch int, fn func([]audit.Entry) error) error {
	var after int64
	for {
		es, err := d.AuditAfter(ctx, after, batch)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		if err := fn(es); err != nil {
			return err
		}
		after = es[len(es)-1].Seq
	}
}

// AuditCheckpoints implements store.Audit.
func (d *DB) AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT seq, hash, time_ns, key_id, mac FROM audit_checkpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var cp audit.Checkpoint
		var ns int64
		if err := rows.Scan(&cp.Seq, &cp.Hash, &ns, &cp.KeyID, &cp.MAC); err != nil {
			return nil, fmt.Errorf("sqlite: reading audit checkpoints: %w", err)
		}
		cp.Time = time.Unix(0, ns).UTC()
		out = append(out, cp)
	}
	return out, rows.Err()
}

// AuditCursor implements audit.Outbox.
func (d *DB) AuditCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := d.read.QueryRowContext(ctx, `SELECT seq FROM audit_cursors WHERE name = ?`, name).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: reading audit cursor: %w", err)
	}
	return seq, nil
}

// SetAuditCursor implements audit.Outbox.
func (d *DB) SetAuditCursor(ctx context.Context, name string, seq int64) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_cursors (name, seq) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq)
		if err != nil {
			return fmt.Errorf("sqlite: moving audit cursor: %w", err)
		}
		return nil
	})
}
