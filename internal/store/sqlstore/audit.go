package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// AuditColumns are the columns of audit_events, in the order of AuditRow.
var AuditColumns = []string{"seq", "prev", "hash", "time_ns", "service", "actor", "action", "secret", "version",
	"outcome", "reason", "request_id", "source", "detail", "decision_id"}

var auditColumns = strings.Join(AuditColumns, ", ")

// AuditRow is the values of e's columns, in the order of AuditColumns.
func AuditRow(e audit.Entry) [15]any {
	return [...]any{e.Seq, e.Prev, e.Hash, e.Time.UnixNano(), e.Service, e.Actor, e.Action, e.Secret,
		int64(e.Version), e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail, e.DecisionID}
}

// Statements of an audit append.
const (
	AuditHeadQuery   = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`
	GenerationQuery  = `SELECT n FROM store_generation WHERE id = 1`
	CheckpointInsert = `INSERT INTO audit_checkpoints (seq, hash, time_ns, key_id, mac) VALUES ($1, $2, $3, $4, $5)`
)

// CheckpointRow is the values of CheckpointInsert for cp.
func CheckpointRow(cp audit.Checkpoint) [5]any {
	return [...]any{cp.Seq, cp.Hash, cp.Time.UnixNano(), cp.KeyID, cp.MAC}
}

// ChainTx is the transaction of one audit append, as a driver runs it. It
// holds the chain's lock (serialising appends across every process using
// the store) from before Head until it commits.
type ChainTx interface {
	// Head reads the chain's head: audit.EmptyHead when it is empty.
	Head(ctx context.Context) (audit.Head, error)
	// Generation reads the store's generation.
	Generation(ctx context.Context) (uint64, error)
	// Insert stores the entries, in order.
	Insert(ctx context.Context, es []audit.Entry) error
	// Checkpoint stores one checkpoint.
	Checkpoint(ctx context.Context, cp audit.Checkpoint) error
}

// AppendChain is the body of AppendAudit, within a transaction that holds
// the chain's lock: it reads the head (and the store's generation when a
// guarded event is in the batch, so that the guard is checked against the
// generation at the commit of its event), links the batch, and stores its
// entries and checkpoints.
func AppendChain(ctx context.Context, tx ChainTx, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	head, err := tx.Head(ctx)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if ev.Guard != 0 {
			// Under the chain's lock, in the transaction that commits
			// the event: a read guarded by it is current at this commit.
			if head.Generation, err = tx.Generation(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	es, cps, err := link(head, evs)
	if err != nil {
		return nil, err
	}
	if err := tx.Insert(ctx, es); err != nil {
		return nil, err
	}
	for _, cp := range cps {
		if err := tx.Checkpoint(ctx, cp); err != nil {
			return nil, err
		}
	}
	return es, nil
}

// AuditHead implements store.Audit.
func (s *Store) AuditHead(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := s.read.QueryRowContext(ctx, AuditHeadQuery).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.EmptyHead, nil
	}
	if err != nil {
		return audit.Head{}, s.Fail("reading audit head", err)
	}
	return h, nil
}

func (s *Store) entries(ctx context.Context, q string, args ...any) ([]audit.Entry, error) {
	return rowsOf(ctx, s, nil, "reading audit events", scanEntry, q, args...)
}

// auditFilter builds the WHERE clause of an audit query, its
// placeholders numbered in order ($1, $2, ...).
type auditFilter struct {
	where []string
	args  []any
}

func (f *auditFilter) add(cond string, v any) {
	f.args = append(f.args, v)
	f.where = append(f.where, fmt.Sprintf(cond, len(f.args)))
}

// auditFilterOf holds the filters QueryAudit and AuditPage share: the
// secret, the service, the action and the outcome ("" for any), and the
// time range (zero for open).
func auditFilterOf(secret, service, action, outcome string, since, until time.Time) *auditFilter {
	f := &auditFilter{}
	if secret != "" {
		f.add("secret = $%d", secret)
	}
	if service != "" {
		f.add("service = $%d", service)
	}
	if action != "" {
		f.add("action = $%d", action)
	}
	if outcome != "" {
		f.add("outcome = $%d", outcome)
	}
	if !since.IsZero() {
		f.add("time_ns >= $%d", since.UnixNano())
	}
	if !until.IsZero() {
		f.add("time_ns < $%d", until.UnixNano())
	}
	return f
}

// sql is the WHERE clause ("" without filters).
func (f *auditFilter) sql() string {
	if len(f.where) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(f.where, " AND ")
}

// QueryAudit implements store.Audit.
func (s *Store) QueryAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	outcome := ""
	if q.Failed {
		outcome = audit.Failure
	}
	f := auditFilterOf(q.Secret, q.Service, q.Action, outcome, q.Since, q.Until)
	if q.AfterSeq > 0 {
		f.add("seq > $%d", q.AfterSeq)
	}
	stmt := `SELECT ` + auditColumns + ` FROM audit_events` + f.sql()
	if q.Newest {
		stmt += ` ORDER BY seq DESC`
	} else {
		stmt += ` ORDER BY seq`
	}
	if q.Limit > 0 {
		stmt += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	es, err := s.entries(ctx, stmt, f.args...)
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
func (s *Store) AuditAfter(ctx context.Context, after int64, limit int) ([]audit.Entry, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.entries(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
}

// WalkAudit implements store.Audit.
func (s *Store) WalkAudit(ctx context.Context, batch int, fn func([]audit.Entry) error) error {
	var after int64
	for {
		es, err := s.AuditAfter(ctx, after, batch)
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
func (s *Store) AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	var out []audit.Checkpoint
	err := s.collect(ctx, "reading audit checkpoints", func(r Scanner) error {
		var cp audit.Checkpoint
		var ns int64
		err := r.Scan(&cp.Seq, &cp.Hash, &ns, &cp.KeyID, &cp.MAC)
		cp.Time = time.Unix(0, ns).UTC()
		out = append(out, cp)
		return err
	}, `SELECT seq, hash, time_ns, key_id, mac FROM audit_checkpoints ORDER BY id`)
	return out, err
}

// AuditCursor implements audit.Outbox.
func (s *Store) AuditCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT seq FROM audit_cursors WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.Fail("reading audit cursor", err)
	}
	return seq, nil
}

// SetAuditCursor implements audit.Outbox.
func (s *Store) SetAuditCursor(ctx context.Context, name string, seq int64) error {
	_, err := s.changed(ctx, "moving audit cursor", `INSERT INTO audit_cursors (name, seq) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq)
	return err
}

// AuditKeys implements audit.KeyStore.
func (s *Store) AuditKeys(ctx context.Context) ([]audit.WrappedKey, error) {
	var out []audit.WrappedKey
	err := s.collect(ctx, "reading audit keys", func(r Scanner) error {
		var w audit.WrappedKey
		err := r.Scan(&w.KeyID, &w.Wrapped)
		out = append(out, w)
		return err
	}, `SELECT key_id, wrapped FROM audit_keys ORDER BY created_ns, key_id`)
	return out, err
}

// AddAuditKey implements audit.KeyStore.
func (s *Store) AddAuditKey(ctx context.Context, w audit.WrappedKey) (bool, error) {
	n, err := s.changed(ctx, "recording the audit key", `INSERT INTO audit_keys (key_id, wrapped, created_ns) VALUES ($1, $2, $3)
		ON CONFLICT (key_id) DO NOTHING`, w.KeyID, w.Wrapped, time.Now().UnixNano())
	return n == 1, err
}

// DeleteAuditKey implements audit.KeyStore.
func (s *Store) DeleteAuditKey(ctx context.Context, keyID string) error {
	_, err := s.changed(ctx, "removing a wrapping of the audit key", `DELETE FROM audit_keys WHERE key_id = $1`, keyID)
	return err
}

// TxChain is a ChainTx over a database/sql transaction of the store,
// which the caller holds the chain's lock in: a write that records its own
// event (store.Write.Audit), or PostgreSQL's append, which replaces Insert
// with one statement for the batch. Writes are rare; it inserts row by row.
type TxChain struct {
	S  *Store
	Tx *sql.Tx
}

// Head implements ChainTx.
func (t TxChain) Head(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := t.Tx.QueryRowContext(ctx, AuditHeadQuery).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.EmptyHead, nil
	}
	if err != nil {
		return audit.Head{}, t.S.Fail("reading audit head", err)
	}
	return h, nil
}

// Generation implements ChainTx.
func (t TxChain) Generation(ctx context.Context) (uint64, error) {
	var n int64
	if err := t.Tx.QueryRowContext(ctx, GenerationQuery).Scan(&n); err != nil {
		return 0, t.S.Fail("reading the store generation", err)
	}
	return uint64(n), nil
}

// auditInsertOne inserts one event: a placeholder per column of AuditColumns.
var auditInsertOne = func() string {
	ph := make([]string, len(AuditColumns))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return `INSERT INTO audit_events (` + auditColumns + `) VALUES (` + strings.Join(ph, ", ") + `)`
}()

// Insert implements ChainTx.
func (t TxChain) Insert(ctx context.Context, es []audit.Entry) error {
	for _, e := range es {
		row := AuditRow(e)
		if _, err := t.Tx.ExecContext(ctx, auditInsertOne, row[:]...); err != nil {
			return t.S.Fail("appending audit events", err)
		}
	}
	return nil
}

// Checkpoint implements ChainTx.
func (t TxChain) Checkpoint(ctx context.Context, cp audit.Checkpoint) error {
	row := CheckpointRow(cp)
	if _, err := t.Tx.ExecContext(ctx, CheckpointInsert, row[:]...); err != nil {
		return t.S.Fail("writing audit checkpoint", err)
	}
	return nil
}
