package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
)

// auditStmts are AppendAudit's statements, prepared on the write
// connection at the first append (a store opened by an older schema has no
// audit table): parsing an INSERT costs about as much as running it. There
// is one INSERT per row count up to auditInsertRows, so that a batch of n
// events is one statement, not n: each statement run costs a round through
// database/sql and the driver.
type auditStmts struct {
	mu               sync.Mutex
	head, checkpoint *sql.Stmt
	ins              [auditInsertRows + 1]*sql.Stmt // ins[n] inserts n rows
}

func (a *auditStmts) prepare(ctx context.Context, w *sql.DB) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.checkpoint != nil {
		return nil
	}
	qs := []string{auditHeadQuery, auditCheckpointQuery}
	for n := 1; n <= auditInsertRows; n++ {
		qs = append(qs, `INSERT INTO audit_events (`+auditColumns+`) VALUES `+auditInsertRow+strings.Repeat(","+auditInsertRow, n-1))
	}
	var ready []*sql.Stmt
	for _, q := range qs {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range ready {
				st.Close()
			}
			return err
		}
		ready = append(ready, st)
	}
	a.head, a.checkpoint = ready[0], ready[1]
	copy(a.ins[1:], ready[2:])
	return nil
}

func (a *auditStmts) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range append([]*sql.Stmt{a.head, a.checkpoint}, a.ins[1:]...) {
		if st != nil {
			st.Close()
		}
	}
}

func appendEntryArgs(args []any, e audit.Entry) []any {
	return append(args, e.Seq, e.Prev, e.Hash, e.Time.UnixNano(), e.Service, e.Actor, e.Action, e.Secret,
		e.Version, e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail)
}

// AppendAudit implements audit.Appender. The write connection's
// transactions begin IMMEDIATE, so the head read here cannot move until
// commit, whichever process appends.
func (d *DB) AppendAudit(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if err := d.audit.prepare(ctx, d.write); err != nil {
		return nil, d.classify("preparing queries", err)
	}
	var out []audit.Entry
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		head, err := auditHead(ctx, tx.StmtContext(ctx, d.audit.head))
		if err != nil {
			return err
		}
		es, cps, err := link(head, evs)
		if err != nil {
			return err
		}
		args := make([]any, 0, 14*min(len(es), auditInsertRows))
		for i := 0; i < len(es); {
			n := min(len(es)-i, auditInsertRows)
			args = args[:0]
			for _, e := range es[i : i+n] {
				args = appendEntryArgs(args, e)
			}
			if _, err := tx.StmtContext(ctx, d.audit.ins[n]).ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("sqlite: appending audit events: %w", err)
			}
			i += n
		}
		if len(cps) > 0 {
			cp := tx.StmtContext(ctx, d.audit.checkpoint)
			for _, c := range cps {
				if _, err := cp.ExecContext(ctx, c.Seq, c.Hash, c.Time.UnixNano(), c.KeyID, c.MAC); err != nil {
					return fmt.Errorf("sqlite: writing audit checkpoint: %w", err)
				}
			}
		}
		out = es
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
