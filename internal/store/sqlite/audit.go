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

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// auditInsertRows is the most rows of one prepared INSERT: a batch is
// stored as whole chunks of it, then one INSERT of the rest.
const auditInsertRows = 16

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
	qs := []string{`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`, sqlstore.AuditHeadQuery, sqlstore.CheckpointInsert, sqlstore.GenerationQuery}
	row := `(?` + strings.Repeat(`,?`, len(sqlstore.AuditColumns)-1) + `)`
	for n := 1; n <= auditInsertRows; n++ {
		qs = append(qs, `INSERT INTO audit_events (`+strings.Join(sqlstore.AuditColumns, ", ")+`) VALUES `+row+strings.Repeat(","+row, n-1))
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

func appendArgs(args []driver.NamedValue, vs ...any) []driver.NamedValue {
	for _, v := range vs {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	return args
}

// AppendAudit implements audit.Appender. It holds the write connection for
// the whole transaction (so writes of this process queue behind it), and
// its transaction begins IMMEDIATE (so writes of other processes wait).
func (d *DB) AppendAudit(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	c, err := d.write.Conn(ctx)
	if err != nil {
		return nil, d.Fail("beginning a write", err)
	}
	defer c.Close()
	var out []audit.Entry
	err = c.Raw(func(dc any) error {
		d.audit.mu.Lock()
		defer d.audit.mu.Unlock()
		if err := d.audit.on(ctx, dc); err != nil {
			return d.Fail("preparing queries", err)
		}
		out, err = d.appendTx(ctx, evs, link)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (d *DB) appendTx(ctx context.Context, evs []audit.Event, link audit.LinkFunc) ([]audit.Entry, error) {
	a := &d.audit
	if err := exec(ctx, a.begin, nil); err != nil {
		return nil, d.Fail("beginning a write", err)
	}
	done := false
	defer func() {
		if !done {
			// not ctx: a cancelled context would interrupt the rollback
			_ = exec(context.Background(), a.rollback, nil)
		}
	}()
	es, err := sqlstore.AppendChain(ctx, chainTx{a}, evs, link)
	if err != nil {
		return nil, err
	}
	if err := exec(ctx, a.commit, nil); err != nil {
		return nil, d.Fail("committing", err)
	}
	done = true
	return es, nil
}

// chainTx is an append's transaction on the prepared statements.
type chainTx struct{ a *auditStmts }

// Insert implements sqlstore.ChainTx.
func (t chainTx) Insert(ctx context.Context, es []audit.Entry) error {
	args := make([]driver.NamedValue, 0, len(sqlstore.AuditColumns)*min(len(es), auditInsertRows))
	for i := 0; i < len(es); {
		n := min(len(es)-i, auditInsertRows)
		args = args[:0]
		for _, e := range es[i : i+n] {
			row := sqlstore.AuditRow(e)
			args = appendArgs(args, row[:]...)
		}
		if err := exec(ctx, t.a.ins[n], args); err != nil {
			return fmt.Errorf("sqlite: appending audit events: %w", err)
		}
		i += n
	}
	return nil
}

// Checkpoint implements sqlstore.ChainTx.
func (t chainTx) Checkpoint(ctx context.Context, cp audit.Checkpoint) error {
	row := sqlstore.CheckpointRow(cp)
	if err := exec(ctx, t.a.checkpoint, appendArgs(nil, row[:]...)); err != nil {
		return fmt.Errorf("sqlite: writing audit checkpoint: %w", err)
	}
	return nil
}

// Head implements sqlstore.ChainTx.
func (t chainTx) Head(ctx context.Context) (audit.Head, error) {
	dest, err := queryRow(ctx, t.a.head, 2)
	if err == io.EOF {
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

// Generation implements sqlstore.ChainTx.
func (t chainTx) Generation(ctx context.Context) (uint64, error) {
	dest, err := queryRow(ctx, t.a.gen, 1)
	if err != nil {
		return 0, fmt.Errorf("sqlite: reading the store generation: %w", err)
	}
	n, ok := dest[0].(int64)
	if !ok || n <= 0 {
		return 0, errors.New("sqlite: reading the store generation: unexpected value")
	}
	return uint64(n), nil
}

// queryRow reads the first row of st's n columns; io.EOF when it has none.
func queryRow(ctx context.Context, st driver.Stmt, n int) ([]driver.Value, error) {
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, n)
	return dest, rows.Next(dest)
}
