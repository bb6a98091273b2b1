package postgres

import (
	"context"
	"database/sql"

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
		if _, err := tx.ExecContext(ctx, dialect.ChainLock); err != nil {
			return d.Fail("locking the audit chain", err)
		}
		var err error
		out, err = sqlstore.AppendChain(ctx, chainTx{sqlstore.TxChain{S: d.Store, Tx: tx}}, evs, link)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// chainTx is an append's transaction: sqlstore's, but for the insert.
type chainTx struct{ sqlstore.TxChain }

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
	_, err := t.Tx.ExecContext(ctx, `INSERT INTO audit_events (seq, prev, hash, time_ns, service, actor, action, secret, version, outcome, reason, request_id, source, detail, decision_id)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::int[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])`, args...)
	if err != nil {
		return t.S.Fail("appending audit events", err)
	}
	return nil
}
