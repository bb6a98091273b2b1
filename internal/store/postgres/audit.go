package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// auditLockKey is the transaction-scoped advisory lock that serialises
// chain appends across every node on the database ("sa01" "audit").
const auditLockKey int64 = 0x5a01_0000_a0d1

// AppendAudit implements audit.Appender: under a transaction-scoped
// advisory lock, it reads the head, links the batch and inserts it in one
// statement.
func (d *DB) AppendAudit(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var out []audit.Entry
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return d.Fail("locking the audit chain", err)
		}
		var err error
		out, err = sqlstore.AppendChain(ctx, chainTx{d, tx}, evs, link)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// chainTx is an append's transaction.
type chainTx struct {
	d  *DB
	tx *sql.Tx
}

// Head implements sqlstore.ChainTx.
func (t chainTx) Head(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := t.tx.QueryRowContext(ctx, sqlstore.AuditHeadQuery).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.EmptyHead, nil
	}
	if err != nil {
		return audit.Head{}, t.d.Fail("reading audit head", err)
	}
	return h, nil
}

// Generation implements sqlstore.ChainTx: the generation committed now,
// so a read guarded by it is current at this instant, within its request.
func (t chainTx) Generation(ctx context.Context) (uint64, error) {
	var n int64
	if err := t.tx.QueryRowContext(ctx, sqlstore.GenerationQuery).Scan(&n); err != nil {
		return 0, t.d.Fail("reading the store generation", err)
	}
	return uint64(n), nil
}

// Insert implements sqlstore.ChainTx: one INSERT of the batch's columns as
// arrays, whatever its size.
func (t chainTx) Insert(ctx context.Context, es []audit.Entry) error {
	cols := make([][]any, len(sqlstore.AuditColumns))
	for i := range cols {
		cols[i] = make([]any, len(es))
	}
	for j, e := range es {
		for i, v := range sqlstore.AuditRow(e) {
			cols[i][j] = v
		}
	}
	args := make([]any, len(cols))
	for i := range cols {
		args[i] = cols[i]
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_events (seq, prev, hash, time_ns, service, actor, action, secret, version, outcome, reason, request_id, source, detail, decision_id)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::int[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])`, args...)
	if err != nil {
		return t.d.Fail("appending audit events", err)
	}
	return nil
}

// Checkpoint implements sqlstore.ChainTx.
func (t chainTx) Checkpoint(ctx context.Context, cp audit.Checkpoint) error {
	row := sqlstore.CheckpointRow(cp)
	if _, err := t.tx.ExecContext(ctx, sqlstore.CheckpointInsert, row[:]...); err != nil {
		return t.d.Fail("writing audit checkpoint", err)
	}
	return nil
}
