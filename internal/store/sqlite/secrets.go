package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

const secretCols = `s.id, s.name, s.class, s.rotation_period, s.description, s.owner, s.env_name,
	s.created_at, s.updated_at, s.deleted_at, s.current_version`

type scanner interface{ Scan(dest ...any) error }

func scanSecret(r scanner, extra ...any) (store.Secret, error) {
	var s store.Secret
	var rot, created, updated int64
	var deleted sql.NullInt64
	dest := append([]any{&s.ID, &s.Name, &s.Class, &rot, &s.Description, &s.Owner, &s.EnvName,
		&created, &updated, &deleted, &s.CurrentVersion}, extra...)
	if err := r.Scan(dest...); err != nil {
		return s, err
	}
	s.RotationPeriod = time.Duration(rot) * time.Second
	s.CreatedAt, s.UpdatedAt, s.DeletedAt = fromMicros(created), fromMicros(updated), fromNull(deleted)
	return s, nil
}

// Put implements store.Secrets.
func (d *DB) Put(ctx context.Context, w store.Write) (store.Secret, store.Version, error) {
	var s store.Secret
	var v store.Version
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		s, v, err = put(ctx, d.put.inTx(ctx, tx), w)
		return err
	})
	return s, v, err
}

// PutMany implements store.Secrets.
func (d *DB) PutMany(ctx context.Context, ws []store.Write) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		q := d.put.inTx(ctx, tx)
		for _, w := range ws {
			if _, _, err := put(ctx, q, w); err != nil {
				return err
			}
		}
		return nil
	})
}

// Statements of a put, prepared once on the write connection.
const (
	putSelect    = `SELECT ` + secretCols + ` FROM secrets s WHERE s.name = ?`
	putInsSecret = `INSERT INTO secrets (name, class, rotation_period, description, owner, env_name, created_at, updated_at, current_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`
	putInsVersion = `INSERT INTO versions (secret_id, version, token, key_id, binding, created_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?)`
	putUpdate     = `UPDATE secrets SET current_version = ?, updated_at = ?, class = ?, rotation_period = ?, description = ?, owner = ?, env_name = ? WHERE id = ?`
)

type putStmts struct{ sel, insSecret, insVersion, update *sql.Stmt }

func (d *DB) preparePut(ctx context.Context) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{{&d.put.sel, putSelect}, {&d.put.insSecret, putInsSecret}, {&d.put.insVersion, putInsVersion}, {&d.put.update, putUpdate}} {
		st, err := d.write.PrepareContext(ctx, p.q)
		if err != nil {
			return err
		}
		*p.dst = st
	}
	return nil
}

// inTx returns the put statements bound to tx (they stay prepared on the
// one write connection).
func (p *putStmts) inTx(ctx context.Context, tx *sql.Tx) *putStmts {
	return &putStmts{tx.StmtContext(ctx, p.sel), tx.StmtContext(ctx, p.insSecret), tx.StmtContext(ctx, p.insVersion), tx.StmtContext(ctx, p.update)}
}

func put(ctx context.Context, q *putStmts, w store.Write) (store.Secret, store.Version, error) {
	s, err := scanSecret(q.sel.QueryRowContext(ctx, w.Name))
	now := w.Now.UTC()
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if w.CAS != nil && *w.CAS != 0 {
			return s, store.Version{}, fmt.Errorf("%w: %s does not exist, not at version %d", store.ErrConflict, w.Name, *w.CAS)
		}
		s = store.Secret{Name: w.Name, Class: store.ClassConfig, CreatedAt: now}
		applyMeta(&s, w.Meta)
		res, err := q.insSecret.ExecContext(ctx,
			s.Name, s.Class, int64(s.RotationPeriod/time.Second), s.Description, s.Owner, s.EnvName, micros(now), micros(now))
		if err != nil {
			return s, store.Version{}, fmt.Errorf("sqlite: creating %s: %w", w.Name, err)
		}
		s.ID, _ = res.LastInsertId()
	case err != nil:
		return s, store.Version{}, fmt.Errorf("sqlite: reading %s: %w", w.Name, err)
	case s.Deleted():
		return s, store.Version{}, fmt.Errorf("%w: %s", store.ErrDeleted, w.Name)
	case w.CAS != nil && *w.CAS != s.CurrentVersion:
		return s, store.Version{}, fmt.Errorf("%w: %s is at version %d, not %d", store.ErrConflict, w.Name, s.CurrentVersion, *w.CAS)
	default:
		applyMeta(&s, w.Meta)
	}
	next := s.CurrentVersion + 1
	sealed, err := w.Seal(next)
	if err != nil {
		return s, store.Version{}, err
	}
	res, err := q.insVersion.ExecContext(ctx,
		s.ID, next, sealed.Token, sealed.KeyID, sealed.Binding, micros(now), w.Actor)
	if err != nil {
		return s, store.Version{}, fmt.Errorf("sqlite: adding a version to %s: %w", w.Name, err)
	}
	vid, _ := res.LastInsertId()
	if _, err := q.update.ExecContext(ctx,
		next, micros(now), s.Class, int64(s.RotationPeriod/time.Second), s.Description, s.Owner, s.EnvName, s.ID); err != nil {
		return s, store.Version{}, fmt.Errorf("sqlite: updating %s: %w", w.Name, err)
	}
	s.CurrentVersion, s.UpdatedAt = next, now
	return s, store.Version{ID: vid, Secret: s.Name, Version: next, Token: sealed.Token, KeyID: sealed.KeyID,
		Binding: sealed.Binding, CreatedAt: now, Actor: w.Actor}, nil
}

func applyMeta(s *store.Secret, m store.Meta) {
	if m.Class != nil {
		s.Class = *m.Class
	}
	if m.RotationPeriod != nil {
		s.RotationPeriod = *m.RotationPeriod
	}
	if m.Description != nil {
		s.Description = *m.Description
	}
	if m.Owner != nil {
		s.Owner = *m.Owner
	}
	if m.EnvName != nil {
		s.EnvName = *m.EnvName
	}
}

// Secret implements store.Secrets.
func (d *DB) Secret(ctx context.Context, name string) (store.Secret, error) {
	s, err := scanSecret(d.read.QueryRowContext(ctx, `SELECT `+secretCols+` FROM secrets s WHERE s.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
	}
	if err != nil {
		return s, fmt.Errorf("sqlite: reading %s: %w", name, err)
	}
	return s, nil
}

const getQuery = `SELECT ` + secretCols + `,
	v.id, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.destroyed_at, v.compromised_at
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = (CASE WHEN ? = 0 THEN s.current_version ELSE ? END)
	WHERE s.name = ?`

// getCurrentQuery is getQuery for the current version, with the store's
// generation read in the same statement, so in the same snapshot.
const getCurrentQuery = `SELECT ` + secretCols + `,
	v.id, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.destroyed_at, v.compromised_at,
	(SELECT n FROM store_generation WHERE id = 1)
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = s.current_version
	WHERE s.name = ?`

var _ store.Generations = (*DB)(nil)

// Get implements store.Secrets.
func (d *DB) Get(ctx context.Context, name string, version int) (store.Secret, store.Version, error) {
	s, v, _, err := d.get(d.getStmt.QueryRowContext(ctx, version, version, name), name, version, false)
	return s, v, err
}

// GetCurrent implements store.Generations.
func (d *DB) GetCurrent(ctx context.Context, name string) (store.Secret, store.Version, uint64, error) {
	st, err := d.getCurrentStmtPrepared(ctx)
	if err != nil {
		return store.Secret{}, store.Version{}, 0, err
	}
	return d.get(st.QueryRowContext(ctx, name), name, 0, true)
}

func (d *DB) getCurrentStmtPrepared(ctx context.Context) (*sql.Stmt, error) {
	d.getCurrentMu.Lock()
	defer d.getCurrentMu.Unlock()
	if d.getCurrentStmt == nil {
		st, err := d.read.PrepareContext(ctx, getCurrentQuery)
		if err != nil {
			return nil, d.classify("preparing queries", err)
		}
		d.getCurrentStmt = st
	}
	return d.getCurrentStmt, nil
}

func (d *DB) getCurrentStmtIfAny() *sql.Stmt {
	d.getCurrentMu.Lock()
	defer d.getCurrentMu.Unlock()
	return d.getCurrentStmt
}

func (d *DB) get(row *sql.Row, name string, version int, withGen bool) (store.Secret, store.Version, uint64, error) {
	var v store.Version
	var vid, vnum, vcreated sql.NullInt64
	var token, keyID, actor sql.NullString
	var destroyed, compromised sql.NullInt64
	var gen int64
	dest := []any{&vid, &vnum, &token, &keyID, &v.Binding, &vcreated, &actor, &destroyed, &compromised}
	if withGen {
		dest = append(dest, &gen)
	}
	s, err := scanSecret(row, dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return s, v, 0, fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
	}
	if err != nil {
		return s, v, 0, fmt.Errorf("sqlite: reading %s: %w", name, err)
	}
	if s.Deleted() {
		return s, v, 0, fmt.Errorf("%w: %s", store.ErrDeleted, name)
	}
	if !vid.Valid {
		return s, v, 0, fmt.Errorf("%w: %s version %d", store.ErrNotFound, name, version)
	}
	v.ID, v.Secret, v.Version, v.Token, v.KeyID, v.Actor = vid.Int64, s.Name, int(vnum.Int64), token.String, keyID.String, actor.String
	v.CreatedAt, v.DestroyedAt, v.CompromisedAt = fromMicros(vcreated.Int64), fromNull(destroyed), fromNull(compromised)
	if v.Destroyed() {
		return s, v, 0, fmt.Errorf("%w: %s version %d", store.ErrDestroyed, name, v.Version)
	}
	if v.Compromised() {
		return s, store.Version{ID: v.ID, Secret: v.Secret, Version: v.Version, KeyID: v.KeyID, CompromisedAt: v.CompromisedAt},
			0, fmt.Errorf("%w: %s version %d", store.ErrCompromised, name, v.Version)
	}
	return s, v, uint64(gen), nil
}

// List implements store.Secrets.
func (d *DB) List(ctx context.Context, opts store.ListOptions) ([]store.Secret, error) {
	q := `SELECT ` + secretCols + ` FROM secrets s WHERE s.name >= ? AND s.name < ?`
	if !opts.IncludeDeleted {
		q += ` AND s.deleted_at IS NULL`
	}
	rows, err := d.read.QueryContext(ctx, q+` ORDER BY s.name`, opts.Prefix, opts.Prefix+"\U0010FFFF")
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing: %w", err)
	}
	defer rows.Close()
	var out []store.Secret
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// History implements store.Secrets.
func (d *DB) History(ctx context.Context, name string) ([]store.Version, error) {
	s, err := d.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := d.read.QueryContext(ctx, `SELECT id, version, key_id, created_at, actor, destroyed_at, compromised_at
		FROM versions WHERE secret_id = ? ORDER BY version`, s.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history of %s: %w", name, err)
	}
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		v := store.Version{Secret: name}
		var created int64
		var destroyed, compromised sql.NullInt64
		if err := rows.Scan(&v.ID, &v.Version, &v.KeyID, &created, &v.Actor, &destroyed, &compromised); err != nil {
			return nil, fmt.Errorf("sqlite: history of %s: %w", name, err)
		}
		v.CreatedAt, v.DestroyedAt, v.CompromisedAt = fromMicros(created), fromNull(destroyed), fromNull(compromised)
		out = append(out, v)
	}
	return out, rows.Err()
}

// Delete implements store.Secrets.
func (d *DB) Delete(ctx context.Context, name string, now time.Time) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		var deleted sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT deleted_at FROM secrets WHERE name = ?`, name).Scan(&deleted)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
		case err != nil:
			return fmt.Errorf("sqlite: deleting %s: %w", name, err)
		case deleted.Valid:
			return fmt.Errorf("%w: %s", store.ErrDeleted, name)
		}
		_, err = tx.ExecContext(ctx, `UPDATE secrets SET deleted_at = ?, updated_at = ? WHERE name = ?`, micros(now), micros(now), name)
		return err
	})
}

// Undelete implements store.Secrets.
func (d *DB) Undelete(ctx context.Context, name string, now time.Time) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets SET deleted_at = NULL, updated_at = ? WHERE name = ? AND deleted_at IS NOT NULL`, micros(now), name)
		if err != nil {
			return fmt.Errorf("sqlite: undeleting %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var id int64
			if err := tx.QueryRowContext(ctx, `SELECT id FROM secrets WHERE name = ?`, name).Scan(&id); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
			}
		}
		return nil
	})
}

// Destroy implements store.Secrets.
func (d *DB) Destroy(ctx context.Context, name string, version int, now time.Time) error {
	return d.markVersion(ctx, name, version, `token = '', binding = x'', destroyed_at = ?`, `destroyed_at IS NULL`, now)
}

// MarkCompromised implements store.Secrets.
func (d *DB) MarkCompromised(ctx context.Context, name string, version int, now time.Time) error {
	return d.markVersion(ctx, name, version, `compromised_at = ?`, `compromised_at IS NULL`, now)
}

func (d *DB) markVersion(ctx context.Context, name string, version int, set, unless string, now time.Time) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		var vid int64
		err := tx.QueryRowContext(ctx, `SELECT v.id FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ? AND v.version = ?`, name, version).Scan(&vid)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s version %d", store.ErrNotFound, name, version)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s version %d: %w", name, version, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE versions SET `+set+` WHERE id = ? AND `+unless, micros(now), vid)
		return err
	})
}
