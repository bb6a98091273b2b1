package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Audit = (*DB)(nil)

const auditColumns = `seq, prev, hash, time_ns, service, actor, action, secret, version, outcome, reason, request_id, source, detail`

// auditInsertRows bounds the rows of one INSERT (14 parameters each).
const auditInsertRows = 200

// AppendAudit implements audit.Appender. The write connection's
// transactions begin IMMEDIATE, so the head read here cannot move until
// commit, whichever process appends.
func (d *DB) AppendAudit(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var out []audit.Entry
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		head, err := auditHead(ctx, tx)
		if err != nil {
			return err
		}
		es, cps, err := link(head, evs)
		if err != nil {
			return err
		}
		for i := 0; i < len(es); i += auditInsertRows {
			chunk := es[i:min(i+auditInsertRows, len(es))]
			var b strings.Builder
			b.WriteString(`INSERT INTO audit_events (` + auditColumns + `) VALUES `)
			args := make([]any, 0, 14*len(chunk))
			for j, e := range chunk {
				if j > 0 {
					b.WriteString(",")
				}
				b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
				args = append(args, e.Seq, e.Prev, e.Hash, e.Time.UnixNano(), e.Service, e.Actor, e.Action, e.Secret,
					e.Version, e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail)
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("sqlite: appending audit events: %w", err)
			}
		}
		for _, cp := range cps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, time_ns, key_id, mac) VALUES (?,?,?,?,?)`,
				cp.Seq, cp.Hash, cp.Time.UnixNano(), cp.KeyID, cp.MAC); err != nil {
				return fmt.Errorf("sqlite: writing audit checkpoint: %w", err)
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

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditHead(ctx context.Context, q queryer) (audit.Head, error) {
	var h audit.Head
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if err == sql.ErrNoRows {
		return audit.EmptyHead, nil
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("sqlite: reading audit head: %w", err)
	}
	return h, nil
}

// AuditHead implements store.Audit.
func (d *DB) AuditHead(ctx context.Context) (audit.Head, error) { return auditHead(ctx, d.read) }

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
