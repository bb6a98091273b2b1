package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Audit = (*DB)(nil)

// auditLockKey is the transaction-scoped advisory lock that serialises
// chain appends across every node on the database ("sa01" "audit").
const auditLockKey int64 = 0x5a01_0000_a0d1

var auditColumnNames = []string{"seq", "prev", "hash", "time_ns", "service", "actor", "action", "secret", "version", "outcome", "reason", "request_id", "source", "detail"}

var auditColumns = strings.Join(auditColumnNames, ", ")

type rowQueryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func auditHead(ctx context.Context, q rowQueryer) (audit.Head, error) {
	var h audit.Head
	err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.EmptyHead, nil
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("postgres: reading audit head: %w", err)
	}
	return h, nil
}

// Guards implements audit.Guarding: AppendAudit reads the store's
// generation (store.Generations) into the head when a batch holds a
// guarded event.
func (d *DB) Guards() bool { return true }

// AppendAudit implements audit.Appender: under a transaction-scoped
// advisory lock, it reads the head, links the batch and copies it in.
func (d *DB) AppendAudit(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var out []audit.Entry
	err := d.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return fmt.Errorf("postgres: locking the audit chain: %w", err)
		}
		head, err := auditHead(ctx, tx)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Guard != 0 {
				// The generation committed now: a read guarded by it
				// is current at this instant, within its request.
				var n int64
				if err := tx.QueryRow(ctx, `SELECT n FROM store_generation WHERE id = 1`).Scan(&n); err != nil {
					return fmt.Errorf("postgres: reading the store generation: %w", err)
				}
				head.Generation = uint64(n)
				break
			}
		}
		es, cps, err := link(head, evs)
		if err != nil {
			return err
		}
		rows := make([][]any, len(es))
		for i, e := range es {
			rows[i] = []any{e.Seq, e.Prev, e.Hash, e.Time.UnixNano(), e.Service, e.Actor, e.Action, e.Secret,
				int64(e.Version), e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, auditColumnNames, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("postgres: appending audit events: %w", err)
		}
		for _, cp := range cps {
			if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, time_ns, key_id, mac) VALUES ($1,$2,$3,$4,$5)`,
				cp.Seq, cp.Hash, cp.Time.UnixNano(), cp.KeyID, cp.MAC); err != nil {
				return fmt.Errorf("postgres: writing audit checkpoint: %w", err)
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

// AuditHead implements store.Audit.
func (d *DB) AuditHead(ctx context.Context) (audit.Head, error) { return auditHead(ctx, d.pool) }

func scanEntries(rows pgx.Rows) ([]audit.Entry, error) {
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var ns, version int64
		if err := rows.Scan(&e.Seq, &e.Prev, &e.Hash, &ns, &e.Service, &e.Actor, &e.Action, &e.Secret,
			&version, &e.Outcome, &e.Reason, &e.RequestID, &e.Source, &e.Detail); err != nil {
			return nil, fmt.Errorf("postgres: reading audit events: %w", err)
		}
		e.Version = int(version)
		e.Time = time.Unix(0, ns).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: reading audit events: %w", err)
	}
	return out, nil
}

// QueryAudit implements store.Audit.
func (d *DB) QueryAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Secret != "" {
		add("secret = $%d", q.Secret)
	}
	if q.Service != "" {
		add("service = $%d", q.Service)
	}
	if q.Action != "" {
		add("action = $%d", q.Action)
	}
	if !q.Since.IsZero() {
		add("time_ns >= $%d", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time_ns < $%d", q.Until.UnixNano())
	}
	if q.Failed {
		add("outcome = $%d", audit.Failure)
	}
	if q.AfterSeq > 0 {
		add("seq > $%d", q.AfterSeq)
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
	rows, err := d.pool.Query(ctx, s, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: querying audit events: %w", err)
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
	rows, err := d.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading audit events: %w", err)
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
	rows, err := d.pool.Query(ctx, `SELECT seq, hash, time_ns, key_id, mac FROM audit_checkpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var cp audit.Checkpoint
		var ns int64
		if err := rows.Scan(&cp.Seq, &cp.Hash, &ns, &cp.KeyID, &cp.MAC); err != nil {
			return nil, fmt.Errorf("postgres: reading audit checkpoints: %w", err)
		}
		cp.Time = time.Unix(0, ns).UTC()
		out = append(out, cp)
	}
	return out, rows.Err()
}

// AuditCursor implements audit.Outbox.
func (d *DB) AuditCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx, `SELECT seq FROM audit_cursors WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: reading audit cursor: %w", err)
	}
	return seq, nil
}

// SetAuditCursor implements audit.Outbox.
func (d *DB) SetAuditCursor(ctx context.Context, name string, seq int64) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO audit_cursors (name, seq) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq)
	if err != nil {
		return fmt.Errorf("postgres: moving audit cursor: %w", err)
	}
	return nil
}
