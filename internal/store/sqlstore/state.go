package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// stateColumns are the version sets of the state of the secret aliased s
// (store.State): its compromised versions, then its destroyed ones, each
// a comma-separated text or NULL; then its highest version number.
func (d Dialect) stateColumns() string {
	agg := d.VersionList
	if agg == "" {
		agg = `group_concat(x.version)`
	}
	return `(SELECT ` + agg + ` FROM versions x WHERE x.secret_id = s.id AND x.compromised_at IS NOT NULL),
	(SELECT ` + agg + ` FROM versions x WHERE x.secret_id = s.id AND x.destroyed_at IS NOT NULL),
	(SELECT max(x.version) FROM versions x WHERE x.secret_id = s.id)`
}

// stateDest scans stateColumns.
type stateDest struct {
	comp, destr sql.NullString
	top         sql.NullInt64
}

func (d *stateDest) dest() []any { return []any{&d.comp, &d.destr, &d.top} }

// apply sets the state read into sec.
func (d *stateDest) apply(sec *store.Secret) {
	sec.Compromised, sec.Destroyed, sec.TopVersion = parseList(d.comp), parseList(d.destr), int(d.top.Int64)
}

// parseList reads a stateColumns list, ascending; nil when empty. A
// number that does not parse is kept as -1, which no state MAC covers.
func parseList(l sql.NullString) []int {
	if !l.Valid || l.String == "" {
		return nil
	}
	parts := strings.Split(l.String, ",")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			n = -1
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// scanState reads SecretColumns then stateColumns.
func scanState(r Scanner) (store.Secret, error) {
	var sd stateDest
	sec, err := ScanSecret(r, sd.dest()...)
	sd.apply(&sec)
	return sec, err
}

// SealStateIn gives the secret with row ID id the state MAC seal makes of
// its state as tx sees it.
func (s *Store) SealStateIn(ctx context.Context, tx *sql.Tx, id int64, seal store.StateSealer) error {
	sec, err := scanState(tx.QueryRowContext(ctx, `SELECT `+SecretColumns+`, `+s.d.stateColumns()+` FROM secrets s WHERE s.id = $1`, id))
	if err != nil {
		return s.Fail("reading the state of a secret", err)
	}
	mac, err := seal(sec.State())
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE secrets SET state_mac = $1 WHERE id = $2`, mac, id); err != nil {
		return s.Fail("sealing the state of "+sec.Name, err)
	}
	return nil
}

// Change implements store.Secrets: the change, the new state MAC and the
// change's audit event, in one transaction.
func (s *Store) Change(ctx context.Context, c store.Change) error {
	var head audit.Head
	err := s.WriteTx(ctx, func(tx *sql.Tx) error {
		id, err := s.change(ctx, tx, c)
		if err != nil {
			return err
		}
		if c.SealState != nil {
			if err := s.SealStateIn(ctx, tx, id, c.SealState); err != nil {
				return err
			}
		}
		if c.Audit != nil {
			head, err = s.auditIn(ctx, tx, c.Audit, c.Version)
		}
		return err
	})
	if err == nil && c.Audit != nil && c.Audit.Committed != nil {
		c.Audit.Committed(head)
	}
	return err
}

// change applies c in tx, after locking the secret's row, and returns the
// secret's row ID. Deleting a deleted secret is ErrDeleted; restoring one
// that is not deleted, destroying a destroyed version or marking a marked
// one changes nothing.
func (s *Store) change(ctx context.Context, tx *sql.Tx, c store.Change) (int64, error) {
	now := s.Time(c.Now.UTC())
	var id int64
	var deleted time.Time
	err := tx.QueryRowContext(ctx, `SELECT id, deleted_at FROM secrets WHERE name = $1`+s.d.ForUpdate, c.Name).Scan(&id, at(&deleted))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("%w: secret %s", store.ErrNotFound, c.Name)
	case err != nil:
		return 0, s.Fail(c.Op+" "+c.Name, err)
	}
	switch c.Op {
	case store.OpDelete, store.OpUndelete:
		del := c.Op == store.OpDelete
		switch {
		case del && !deleted.IsZero():
			return 0, fmt.Errorf("%w: %s", store.ErrDeleted, c.Name)
		case !del && deleted.IsZero():
			return id, nil
		}
		var when any // the new deleted_at: now, or NULL
		if del {
			when = now
		}
		if _, err := tx.ExecContext(ctx, `UPDATE secrets SET deleted_at = $1, updated_at = $2 WHERE id = $3`, when, now, id); err != nil {
			return 0, s.Fail(c.Op+" "+c.Name, err)
		}
		return id, nil
	case store.OpDestroy, store.OpCompromise:
		what := fmt.Sprintf("%s version %d", c.Name, c.Version)
		var vid int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM versions WHERE secret_id = $1 AND version = $2`, id, c.Version).Scan(&vid)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("%w: %s", store.ErrNotFound, what)
		}
		if err != nil {
			return 0, s.Fail(what, err)
		}
		q, args := `UPDATE versions SET compromised_at = $1 WHERE id = $2 AND compromised_at IS NULL`, []any{now, vid}
		if c.Op == store.OpDestroy {
			q, args = `UPDATE versions SET token = '', binding = $3, destroyed_at = $1 WHERE id = $2 AND destroyed_at IS NULL`, append(args, []byte{})
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, s.Fail(what, err)
		}
		return id, nil
	}
	return 0, fmt.Errorf("store: unknown change %q", c.Op)
}

// WalkStates implements store.Secrets.
func (s *Store) WalkStates(ctx context.Context, batch int, fn func([]store.Secret) error) error {
	return walkByID(ctx, s, batch, "reading secret states", scanState, func(sec store.Secret) int64 { return sec.ID },
		`SELECT `+SecretColumns+`, `+s.d.stateColumns()+` FROM secrets s WHERE s.id > $1 ORDER BY s.id LIMIT $2`, fn)
}

// SealUnsealed implements store.Secrets.
func (s *Store) SealUnsealed(ctx context.Context, seal store.StateSealer, a *audit.InTx) (int, error) {
	var n int
	var head audit.Head
	err := s.WriteTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT `+SecretColumns+`, `+s.d.stateColumns()+` FROM secrets s WHERE s.state_mac IS NULL ORDER BY s.id`)
		if err != nil {
			return s.Fail("reading unsealed secrets", err)
		}
		var todo []store.Secret
		if err := each(rows, func(r Scanner) error {
			sec, err := scanState(r)
			todo = append(todo, sec)
			return err
		}); err != nil {
			return s.Fail("reading unsealed secrets", err)
		}
		for _, sec := range todo {
			mac, err := seal(sec.State())
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE secrets SET state_mac = $1 WHERE id = $2 AND state_mac IS NULL`, mac, sec.ID); err != nil {
				return s.Fail("sealing the state of "+sec.Name, err)
			}
		}
		n = len(todo)
		if _, err := tx.ExecContext(ctx, `INSERT INTO state_seal (id, sealed_ns) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, time.Now().UnixNano()); err != nil {
			return s.Fail("marking the states sealed", err)
		}
		if a != nil {
			head, err = s.auditIn(ctx, tx, a, n)
		}
		return err
	})
	if err == nil && a != nil && a.Committed != nil {
		a.Committed(head)
	}
	return n, err
}

// StatesSealed implements store.Secrets.
func (s *Store) StatesSealed(ctx context.Context) (bool, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM state_seal`).Scan(&n); err != nil {
		return false, s.Fail("reading the state seal", err)
	}
	return n > 0, nil
}
