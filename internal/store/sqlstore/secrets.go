package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// SecretColumns are the columns ScanSecret reads, of secrets aliased s.
const SecretColumns = `s.id, s.name, s.class, s.rotation_period, s.description, s.owner, s.env_name,
	s.created_at, s.updated_at, s.deleted_at, s.current_version, s.state_mac`

// scanSecret reads SecretColumns.
func scanSecret(r Scanner) (store.Secret, error) { return ScanSecret(r) }

// ScanSecret reads SecretColumns, then extra.
func ScanSecret(r Scanner, extra ...any) (store.Secret, error) {
	var s store.Secret
	var rot int64
	dest := append([]any{&s.ID, &s.Name, &s.Class, &rot, &s.Description, &s.Owner, &s.EnvName,
		at(&s.CreatedAt), at(&s.UpdatedAt), at(&s.DeletedAt), &s.CurrentVersion, &s.StateMAC}, extra...)
	if err := r.Scan(dest...); err != nil {
		return s, err
	}
	s.RotationPeriod = time.Duration(rot) * time.Second
	return s, nil
}

// Put implements store.Secrets.
func (s *Store) Put(ctx context.Context, w store.Write) (store.Secret, store.Version, error) {
	var sec store.Secret
	var v store.Version
	var head audit.Head
	err := s.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		p := s.putIn(ctx, tx)
		if sec, v, err = p.put(ctx, w); err != nil || w.Audit == nil {
			return err
		}
		head, err = s.auditIn(ctx, tx, w.Audit, v.Version)
		return err
	})
	if err == nil && w.Audit != nil && w.Audit.Committed != nil {
		w.Audit.Committed(head)
	}
	return sec, v, err
}

// auditIn appends a change's event in its transaction tx, under the
// chain's lock, and gives it to the copies before the commit.
func (s *Store) auditIn(ctx context.Context, tx *sql.Tx, a *audit.InTx, version int) (audit.Head, error) {
	if s.d.ChainLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.ChainLock); err != nil {
			return audit.Head{}, s.Fail("locking the audit chain", err)
		}
	}
	es, err := AppendChain(ctx, TxChain{s, tx}, []audit.Event{a.Event(version)}, a.Link)
	if err != nil {
		return audit.Head{}, fmt.Errorf("%w: %w", audit.ErrNotRecorded, err)
	}
	if a.Copy != nil {
		if err := a.Copy(ctx, es[0].Event); err != nil {
			return audit.Head{}, err
		}
	}
	return es[len(es)-1].Head(), nil
}

// PutMany implements store.Secrets: every write in one transaction, one
// after the other, or by the dialect's bulk PutMany. Writes with an Audit
// are refused: their events are recorded by Put alone.
func (s *Store) PutMany(ctx context.Context, ws []store.Write) error {
	for _, w := range ws {
		if w.Audit != nil {
			return errors.New("store: PutMany does not record audit events in its transaction; use Put")
		}
	}
	return s.WriteTx(ctx, func(tx *sql.Tx) error {
		if s.d.PutMany != nil {
			return s.d.PutMany(ctx, s, tx, ws)
		}
		p := s.putIn(ctx, tx)
		for _, w := range ws {
			if _, _, err := p.put(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
}

const (
	putCreate = `INSERT INTO secrets (name, class, rotation_period, description, owner, env_name, created_at, updated_at, current_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0) ON CONFLICT (name) DO NOTHING RETURNING id`
	putVersion = `INSERT INTO versions (secret_id, version, token, key_id, binding, created_at, actor)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
	putUpdate = `UPDATE secrets SET current_version = $1, updated_at = $2, class = $3, rotation_period = $4,
		description = $5, owner = $6, env_name = $7, state_mac = $9 WHERE id = $8`
)

// putTx is the statements of puts in one transaction: the prepared ones
// bound to it, or their text.
type putTx struct {
	*Store
	tx                           *sql.Tx
	sel, create, version, update *sql.Stmt
}

func (s *Store) putIn(ctx context.Context, tx *sql.Tx) *putTx {
	p := &putTx{Store: s, tx: tx}
	if s.d.Prepare {
		p.sel, p.create, p.version, p.update = tx.StmtContext(ctx, s.putSelect), tx.StmtContext(ctx, s.putCreate),
			tx.StmtContext(ctx, s.putVersion), tx.StmtContext(ctx, s.putUpdate)
	}
	return p
}

// row runs q, or st when it is prepared.
func (p *putTx) row(ctx context.Context, st *sql.Stmt, q string, args ...any) *sql.Row {
	if st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, q, args...)
}

// exec runs q, or st when it is prepared.
func (p *putTx) exec(ctx context.Context, st *sql.Stmt, q string, args ...any) error {
	var err error
	if st != nil {
		_, err = st.ExecContext(ctx, args...)
	} else {
		_, err = p.tx.ExecContext(ctx, q, args...)
	}
	return err
}

func (p *putTx) put(ctx context.Context, w store.Write) (store.Secret, store.Version, error) {
	s := p.Store
	now := w.Now.UTC().Truncate(time.Microsecond)
	var sec store.Secret
	var err error
	for attempt := 0; ; attempt++ {
		var sd stateDest
		sec, err = ScanSecret(p.row(ctx, p.sel, s.putSelectQ, w.Name), sd.dest()...)
		sd.apply(&sec)
		if !errors.Is(err, sql.ErrNoRows) || attempt > 0 {
			break
		}
		if w.CAS != nil && *w.CAS != 0 {
			return sec, store.Version{}, fmt.Errorf("%w: %s does not exist, not at version %d", store.ErrConflict, w.Name, *w.CAS)
		}
		sec = store.Secret{Name: w.Name, Class: store.ClassConfig, CreatedAt: now, UpdatedAt: now}
		w.Meta.ApplyTo(&sec)
		err = p.row(ctx, p.create, putCreate, sec.Name, sec.Class, int64(sec.RotationPeriod/time.Second), sec.Description,
			sec.Owner, sec.EnvName, s.Time(now)).Scan(&sec.ID)
		if !errors.Is(err, sql.ErrNoRows) {
			break // created, or failed
		}
		// Another writer created it meanwhile: lock and read its row.
	}
	switch {
	case err != nil:
		return sec, store.Version{}, s.Fail("writing "+w.Name, err)
	case sec.Deleted():
		return sec, store.Version{}, fmt.Errorf("%w: %s", store.ErrDeleted, w.Name)
	case w.CAS != nil && *w.CAS != sec.CurrentVersion:
		return sec, store.Version{}, fmt.Errorf("%w: %s is at version %d, not %d", store.ErrConflict, w.Name, sec.CurrentVersion, *w.CAS)
	}
	w.Meta.ApplyTo(&sec)
	next := sec.CurrentVersion + 1
	sealed, err := w.Seal(next)
	if err != nil {
		return sec, store.Version{}, err
	}
	mac := sec.StateMAC
	if w.SealState != nil {
		st := sec.State()
		st.CurrentVersion, st.Deleted = next, false
		if mac, err = w.SealState(st); err != nil {
			return sec, store.Version{}, err
		}
	}
	var vid int64
	if err := p.row(ctx, p.version, putVersion, sec.ID, next, sealed.Token, sealed.KeyID, sealed.Binding, s.Time(now), w.Actor).Scan(&vid); err != nil {
		return sec, store.Version{}, s.Fail("adding a version to "+w.Name, err)
	}
	if err := p.exec(ctx, p.update, putUpdate, next, s.Time(now), sec.Class, int64(sec.RotationPeriod/time.Second),
		sec.Description, sec.Owner, sec.EnvName, sec.ID, mac); err != nil {
		return sec, store.Version{}, s.Fail("updating "+w.Name, err)
	}
	sec.CurrentVersion, sec.UpdatedAt, sec.StateMAC = next, now, mac
	return sec, store.Version{ID: vid, Secret: sec.Name, Version: next, Token: sealed.Token, KeyID: sealed.KeyID,
		Binding: sealed.Binding, CreatedAt: now, Actor: w.Actor}, nil
}

// Secret implements store.Secrets.
func (s *Store) Secret(ctx context.Context, name string) (store.Secret, error) {
	sec, err := ScanSecret(s.read.QueryRowContext(ctx, `SELECT `+SecretColumns+` FROM secrets s WHERE s.name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return sec, fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
	}
	if err != nil {
		return sec, s.Fail("reading "+name, err)
	}
	return sec, nil
}

const versionColumns = `v.id, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.destroyed_at, v.compromised_at`

// getQuery reads a secret, its state and one version of it.
func getQuery(d Dialect) string {
	return `SELECT ` + SecretColumns + `, ` + versionColumns + `, ` + d.stateColumns() + `
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = (CASE WHEN $1 = 0 THEN s.current_version ELSE $1 END)
	WHERE s.name = $2`
}

// getCurrentQuery is getQuery for the current version, with the store's
// generation read in the same statement, so in the same snapshot.
func getCurrentQuery(d Dialect) string {
	return `SELECT ` + SecretColumns + `, ` + versionColumns + `, ` + d.stateColumns() + `,
	(SELECT n FROM store_generation WHERE id = 1)
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = s.current_version
	WHERE s.name = $1`
}

// Get implements store.Secrets.
func (s *Store) Get(ctx context.Context, name string, version int) (store.Secret, store.Version, error) {
	sec, v, _, err := s.scanGet(s.row(ctx, &s.get, version, name), name, version, false)
	return sec, v, err
}

// GetCurrent implements store.Generations.
func (s *Store) GetCurrent(ctx context.Context, name string) (store.Secret, store.Version, uint64, error) {
	return s.scanGet(s.row(ctx, &s.getCurrent, name), name, 0, true)
}

func (s *Store) scanGet(row Scanner, name string, version int, withGen bool) (store.Secret, store.Version, uint64, error) {
	var v store.Version
	var vid, vnum sql.NullInt64
	var token, keyID, actor sql.NullString
	var gen int64
	var sd stateDest
	dest := append([]any{&vid, &vnum, &token, &keyID, &v.Binding, at(&v.CreatedAt), &actor, at(&v.DestroyedAt), at(&v.CompromisedAt)}, sd.dest()...)
	if withGen {
		dest = append(dest, &gen)
	}
	sec, err := ScanSecret(row, dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sec, store.Version{}, 0, fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
	}
	if err != nil {
		return sec, store.Version{}, 0, s.Fail("reading "+name, err)
	}
	sd.apply(&sec)
	if sec.Deleted() {
		return sec, store.Version{}, 0, fmt.Errorf("%w: %s", store.ErrDeleted, name)
	}
	if !vid.Valid {
		return sec, store.Version{}, 0, fmt.Errorf("%w: %s version %d", store.ErrNotFound, name, version)
	}
	v.ID, v.Secret, v.Version, v.Token, v.KeyID, v.Actor = vid.Int64, sec.Name, int(vnum.Int64), token.String, keyID.String, actor.String
	if v.Destroyed() {
		return sec, v, 0, fmt.Errorf("%w: %s version %d", store.ErrDestroyed, name, v.Version)
	}
	if v.Compromised() {
		return sec, store.Version{ID: v.ID, Secret: v.Secret, Version: v.Version, KeyID: v.KeyID, CompromisedAt: v.CompromisedAt},
			0, fmt.Errorf("%w: %s version %d", store.ErrCompromised, name, v.Version)
	}
	return sec, v, uint64(gen), nil
}

// List implements store.Secrets. Names compare bytewise on both
// databases, so the prefix is a range of the name's index.
func (s *Store) List(ctx context.Context, opts store.ListOptions) ([]store.Secret, error) {
	c := s.d.Collate
	q := `SELECT ` + SecretColumns + ` FROM secrets s WHERE s.name >= $1` + c
	args := []any{opts.Prefix}
	if end, ok := prefixEnd(opts.Prefix); ok {
		q += ` AND s.name < $2` + c
		args = append(args, end)
	}
	if !opts.IncludeDeleted {
		q += ` AND s.deleted_at IS NULL`
	}
	return rowsOf(ctx, s, nil, "listing", scanSecret, q+` ORDER BY s.name`+c, args...)
}

// prefixEnd returns the least string greater than every string that
// starts with prefix: prefix with its last code point moved one up, past
// any U+10FFFF at its end. ok is false when there is none (every string
// at or above prefix starts with it).
func prefixEnd(prefix string) (end string, ok bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		switch {
		case rs[i] == 0xD7FF:
			rs[i] = 0xE000 // past the surrogates, which UTF-8 cannot hold
		case rs[i] < 0x10FFFF:
			rs[i]++
		default:
			continue
		}
		return string(rs[:i+1]), true
	}
	return "", false
}

// History implements store.Secrets.
func (s *Store) History(ctx context.Context, name string) ([]store.Version, error) {
	sec, err := s.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []store.Version
	err = s.collect(ctx, "history of "+name, func(r Scanner) error {
		v := store.Version{Secret: name}
		err := r.Scan(&v.ID, &v.Version, &v.KeyID, at(&v.CreatedAt), &v.Actor, at(&v.DestroyedAt), at(&v.CompromisedAt))
		out = append(out, v)
		return err
	}, `SELECT id, version, key_id, created_at, actor, destroyed_at, compromised_at FROM versions WHERE secret_id = $1 ORDER BY version`, sec.ID)
	return out, err
}

// Delete implements store.Secrets.
func (s *Store) Delete(ctx context.Context, name string, now time.Time) error {
	return s.Change(ctx, store.Change{Op: store.OpDelete, Name: name, Now: now})
}

// Undelete implements store.Secrets.
func (s *Store) Undelete(ctx context.Context, name string, now time.Time) error {
	return s.Change(ctx, store.Change{Op: store.OpUndelete, Name: name, Now: now})
}

// Destroy implements store.Secrets.
func (s *Store) Destroy(ctx context.Context, name string, version int, now time.Time) error {
	return s.Change(ctx, store.Change{Op: store.OpDestroy, Name: name, Version: version, Now: now})
}

// MarkCompromised implements store.Secrets.
func (s *Store) MarkCompromised(ctx context.Context, name string, version int, now time.Time) error {
	return s.Change(ctx, store.Change{Op: store.OpCompromise, Name: name, Version: version, Now: now})
}
