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
	s.created_at, s.updated_at, s.deleted_at, s.current_version`

// ScanSecret reads SecretColumns, then extra.
func ScanSecret(r Scanner, extra ...any) (store.Secret, error) {
	var s store.Secret
	var rot int64
	dest := append([]any{&s.ID, &s.Name, &s.Class, &rot, &s.Description, &s.Owner, &s.EnvName,
		at(&s.CreatedAt), at(&s.UpdatedAt), at(&s.DeletedAt), &s.CurrentVersion}, extra...)
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
		head, err = p.audit(ctx, w.Audit, v.Version)
		return err
	})
	if err == nil && w.Audit != nil && w.Audit.Committed != nil {
		w.Audit.Committed(head)
	}
	return sec, v, err
}

// audit appends a write's event in its transaction, under the chain's
// lock, and gives it to the copies before the commit.
func (p *putTx) audit(ctx context.Context, a *audit.InTx, version int) (audit.Head, error) {
	if p.d.ChainLock != "" {
		if _, err := p.tx.ExecContext(ctx, p.d.ChainLock); err != nil {
			return audit.Head{}, p.Fail("locking the audit chain", err)
		}
	}
	es, err := AppendChain(ctx, TxChain{p.Store, p.tx}, []audit.Event{a.Event(version)}, a.Link)
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
// after the other. Writes with an Audit are refused: their events are
// recorded by Put alone.
func (s *Store) PutMany(ctx context.Context, ws []store.Write) error {
	for _, w := range ws {
		if w.Audit != nil {
			return errors.New("store: PutMany does not record audit events in its transaction; use Put")
		}
	}
	return s.WriteTx(ctx, func(tx *sql.Tx) error {
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
		description = $5, owner = $6, env_name = $7 WHERE id = $8`
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
		sec, err = ScanSecret(p.row(ctx, p.sel, s.putSelectQ, w.Name))
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
	var vid int64
	if err := p.row(ctx, p.version, putVersion, sec.ID, next, sealed.Token, sealed.KeyID, sealed.Binding, s.Time(now), w.Actor).Scan(&vid); err != nil {
		return sec, store.Version{}, s.Fail("adding a version to "+w.Name, err)
	}
	if err := p.exec(ctx, p.update, putUpdate, next, s.Time(now), sec.Class, int64(sec.RotationPeriod/time.Second),
		sec.Description, sec.Owner, sec.EnvName, sec.ID); err != nil {
		return sec, store.Version{}, s.Fail("updating "+w.Name, err)
	}
	sec.CurrentVersion, sec.UpdatedAt = next, now
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

const getQuery = `SELECT ` + SecretColumns + `, ` + versionColumns + `
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = (CASE WHEN $1 = 0 THEN s.current_version ELSE $1 END)
	WHERE s.name = $2`

// getCurrentQuery is getQuery for the current version, with the store's
// generation read in the same statement, so in the same snapshot.
const getCurrentQuery = `SELECT ` + SecretColumns + `, ` + versionColumns + `,
	(SELECT n FROM store_generation WHERE id = 1)
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = s.current_version
	WHERE s.name = $1`

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
	dest := []any{&vid, &vnum, &token, &keyID, &v.Binding, at(&v.CreatedAt), &actor, at(&v.DestroyedAt), at(&v.CompromisedAt)}
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
	var out []store.Secret
	err := s.collect(ctx, "listing", func(r Scanner) error {
		sec, err := ScanSecret(r)
		out = append(out, sec)
		return err
	}, q+` ORDER BY s.name`+c, args...)
	return out, err
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
	return s.setDeleted(ctx, name, now, true)
}

// Undelete implements store.Secrets.
func (s *Store) Undelete(ctx context.Context, name string, now time.Time) error {
	return s.setDeleted(ctx, name, now, false)
}

// setDeleted soft-deletes name (del) or restores it. It locks the row
// before it writes, as every write of a secrets row does. Deleting a
// deleted secret is ErrDeleted; restoring one that is not deleted changes
// nothing.
func (s *Store) setDeleted(ctx context.Context, name string, now time.Time, del bool) error {
	verb := "deleting "
	if !del {
		verb = "undeleting "
	}
	return s.WriteTx(ctx, func(tx *sql.Tx) error {
		var deleted time.Time
		err := tx.QueryRowContext(ctx, `SELECT deleted_at FROM secrets WHERE name = $1`+s.d.ForUpdate, name).Scan(at(&deleted))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
		case err != nil:
			return s.Fail(verb+name, err)
		case del && !deleted.IsZero():
			return fmt.Errorf("%w: %s", store.ErrDeleted, name)
		case !del && deleted.IsZero():
			return nil
		}
		var when any // the new deleted_at: now, or NULL
		if del {
			when = s.Time(now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE secrets SET deleted_at = $1, updated_at = $2 WHERE name = $3`, when, s.Time(now), name); err != nil {
			return s.Fail(verb+name, err)
		}
		return nil
	})
}

// Destroy implements store.Secrets.
func (s *Store) Destroy(ctx context.Context, name string, version int, now time.Time) error {
	return s.markVersion(ctx, name, version, `token = '', binding = $3, destroyed_at = $1`, `destroyed_at IS NULL`, now, []byte{})
}

// MarkCompromised implements store.Secrets.
func (s *Store) MarkCompromised(ctx context.Context, name string, version int, now time.Time) error {
	return s.markVersion(ctx, name, version, `compromised_at = $1`, `compromised_at IS NULL`, now)
}

// markVersion sets set ($1 is now) on one version unless it already
// satisfies unless; extra are $3 and on.
func (s *Store) markVersion(ctx context.Context, name string, version int, set, unless string, now time.Time, extra ...any) error {
	return s.WriteTx(ctx, func(tx *sql.Tx) error {
		var vid int64
		err := tx.QueryRowContext(ctx, `SELECT v.id FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = $1 AND v.version = $2`,
			name, version).Scan(&vid)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s version %d", store.ErrNotFound, name, version)
		}
		if err != nil {
			return s.Fail(fmt.Sprintf("%s version %d", name, version), err)
		}
		if _, err = tx.ExecContext(ctx, `UPDATE versions SET `+set+` WHERE id = $2 AND `+unless, append([]any{s.Time(now), vid}, extra...)...); err != nil {
			return s.Fail(fmt.Sprintf("%s version %d", name, version), err)
		}
		return nil
	})
}
