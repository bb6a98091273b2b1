package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

const secretCols = `s.id, s.name, s.class, s.rotation_period, s.description, s.owner, s.env_name,
	s.created_at, s.updated_at, s.deleted_at, s.current_version`

func scanSecret(r pgx.Row, extra ...any) (store.Secret, error) {
	var s store.Secret
	var rot int64
	var deleted *time.Time
	dest := append([]any{&s.ID, &s.Name, &s.Class, &rot, &s.Description, &s.Owner, &s.EnvName,
		&s.CreatedAt, &s.UpdatedAt, &deleted, &s.CurrentVersion}, extra...)
	if err := r.Scan(dest...); err != nil {
		return s, err
	}
	s.RotationPeriod = time.Duration(rot) * time.Second
	s.CreatedAt, s.UpdatedAt, s.DeletedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC(), fromPtr(deleted)
	return s, nil
}

// Put implements store.Secrets.
func (d *DB) Put(ctx context.Context, w store.Write) (store.Secret, store.Version, error) {
	var s store.Secret
	var v store.Version
	err := d.writeTx(ctx, func(tx pgx.Tx) error {
		var err error
		s, v, err = put(ctx, tx, w)
		return err
	})
	return s, v, err
}

func put(ctx context.Context, tx pgx.Tx, w store.Write) (store.Secret, store.Version, error) {
	now := w.Now.UTC().Truncate(time.Microsecond)
	var s store.Secret
	var err error
	for attempt := 0; ; attempt++ {
		s, err = scanSecret(tx.QueryRow(ctx, `SELECT `+secretCols+` FROM secrets s WHERE s.name = $1 FOR UPDATE`, w.Name))
		if err == nil || !errors.Is(err, pgx.ErrNoRows) || attempt > 0 {
			break
		}
		if w.CAS != nil && *w.CAS != 0 {
			return s, store.Version{}, fmt.Errorf("%w: %s does not exist, not at version %d", store.ErrConflict, w.Name, *w.CAS)
		}
		s = store.Secret{Name: w.Name, Class: store.ClassConfig, CreatedAt: now, UpdatedAt: now}
		applyMeta(&s, w.Meta)
		err = tx.QueryRow(ctx, `INSERT INTO secrets (name, class, rotation_period, description, owner, env_name, created_at, updated_at, current_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0) ON CONFLICT (name) DO NOTHING RETURNING id`,
			s.Name, s.Class, int64(s.RotationPeriod/time.Second), s.Description, s.Owner, s.EnvName, now).Scan(&s.ID)
		if err == nil {
			break // created; no meta to apply again
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return s, store.Version{}, fmt.Errorf("postgres: creating %s: %w", w.Name, err)
		}
		// Another writer created it meanwhile: lock and read its row.
	}
	switch {
	case err != nil:
		return s, store.Version{}, fmt.Errorf("postgres: reading %s: %w", w.Name, err)
	case s.Deleted():
		return s, store.Version{}, fmt.Errorf("%w: %s", store.ErrDeleted, w.Name)
	case w.CAS != nil && *w.CAS != s.CurrentVersion:
		return s, store.Version{}, fmt.Errorf("%w: %s is at version %d, not %d", store.ErrConflict, w.Name, s.CurrentVersion, *w.CAS)
	}
	applyMeta(&s, w.Meta)
	next := s.CurrentVersion + 1
	sealed, err := w.Seal(next)
	if err != nil {
		return s, store.Version{}, err
	}
	var vid int64
	if err := tx.QueryRow(ctx, `INSERT INTO versions (secret_id, version, token, key_id, binding, created_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		s.ID, next, sealed.Token, sealed.KeyID, sealed.Binding, now, w.Actor).Scan(&vid); err != nil {
		return s, store.Version{}, fmt.Errorf("postgres: adding a version to %s: %w", w.Name, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE secrets SET current_version = $1, updated_at = $2, class = $3, rotation_period = $4, description = $5, owner = $6, env_name = $7 WHERE id = $8`,
		next, now, s.Class, int64(s.RotationPeriod/time.Second), s.Description, s.Owner, s.EnvName, s.ID); err != nil {
		return s, store.Version{}, fmt.Errorf("postgres: updating %s: %w", w.Name, err)
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
	s, err := scanSecret(d.pool.QueryRow(ctx, `SELECT `+secretCols+` FROM secrets s WHERE s.name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
	}
	if err != nil {
		return s, fmt.Errorf("postgres: reading %s: %w", name, err)
	}
	return s, nil
}

const getQuery = `SELECT ` + secretCols + `,
	v.id, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.destroyed_at, v.compromised_at
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = (CASE WHEN $1::int = 0 THEN s.current_version ELSE $1::int END)
	WHERE s.name = $2`

// getCurrentQuery is getQuery for the current version, with the store's
// generation read in the same statement, so in the same snapshot.
const getCurrentQuery = `SELECT ` + secretCols + `,
	v.id, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.destroyed_at, v.compromised_at,
	(SELECT n FROM store_generation WHERE id = 1)
	FROM secrets s LEFT JOIN versions v ON v.secret_id = s.id AND v.version = s.current_version
	WHERE s.name = $1`

var _ store.Generations = (*DB)(nil)

// Get implements store.Secrets.
func (d *DB) Get(ctx context.Context, name string, version int) (store.Secret, store.Version, error) {
	s, v, _, err := d.get(d.pool.QueryRow(ctx, getQuery, version, name), name, version, false)
	return s, v, err
}

// GetCurrent implements store.Generations.
func (d *DB) GetCurrent(ctx context.Context, name string) (store.Secret, store.Version, uint64, error) {
	return d.get(d.pool.QueryRow(ctx, getCurrentQuery, name), name, 0, true)
}

func (d *DB) get(row pgx.Row, name string, version int, withGen bool) (store.Secret, store.Version, uint64, error) {
	var v store.Version
	var vid *int64
	var vnum *int
	var token, keyID, actor *string
	var created, destroyed, compromised *time.Time
	var gen int64
	dest := []any{&vid, &vnum, &token, &keyID, &v.Binding, &created, &actor, &destroyed, &compromised}
	if withGen {
		dest = append(dest, &gen)
	}
	s, err := scanSecret(row, dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, v, 0, fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
	}
	if err != nil {
		return s, v, 0, fmt.Errorf("postgres: reading %s: %w", name, err)
	}
	if s.Deleted() {
		return s, v, 0, fmt.Errorf("%w: %s", store.ErrDeleted, name)
	}
	if vid == nil {
		return s, v, 0, fmt.Errorf("%w: %s version %d", store.ErrNotFound, name, version)
	}
	v.ID, v.Secret, v.Version, v.Token, v.KeyID, v.Actor = *vid, s.Name, *vnum, *token, *keyID, *actor
	v.CreatedAt, v.DestroyedAt, v.CompromisedAt = fromPtr(created), fromPtr(destroyed), fromPtr(compromised)
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
	q := `SELECT ` + secretCols + ` FROM secrets s WHERE starts_with(s.name, $1)`
	if !opts.IncludeDeleted {
		q += ` AND s.deleted_at IS NULL`
	}
	rows, err := d.pool.Query(ctx, q+` ORDER BY s.name COLLATE "C"`, opts.Prefix)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing: %w", err)
	}
	defer rows.Close()
	var out []store.Secret
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing: %w", err)
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
	rows, err := d.pool.Query(ctx, `SELECT id, version, key_id, created_at, actor, destroyed_at, compromised_at
		FROM versions WHERE secret_id = $1 ORDER BY version`, s.ID)
	if err != nil {
		return nil, fmt.Errorf("postgres: history of %s: %w", name, err)
	}
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		v := store.Version{Secret: name}
		var destroyed, compromised *time.Time
		if err := rows.Scan(&v.ID, &v.Version, &v.KeyID, &v.CreatedAt, &v.Actor, &destroyed, &compromised); err != nil {
			return nil, fmt.Errorf("postgres: history of %s: %w", name, err)
		}
		v.CreatedAt, v.DestroyedAt, v.CompromisedAt = v.CreatedAt.UTC(), fromPtr(destroyed), fromPtr(compromised)
		out = append(out, v)
	}
	return out, rows.Err()
}

// Delete implements store.Secrets.
func (d *DB) Delete(ctx context.Context, name string, now time.Time) error {
	return d.setDeleted(ctx, name, now, true)
}

// Undelete implements store.Secrets.
func (d *DB) Undelete(ctx context.Context, name string, now time.Time) error {
	return d.setDeleted(ctx, name, now, false)
}

// setDeleted soft-deletes name (del) or restores it. It locks the row
// before it writes, as every write of a secrets row does (migration
// 00005). Deleting a deleted secret is ErrDeleted; restoring one that is
// not deleted changes nothing.
func (d *DB) setDeleted(ctx context.Context, name string, now time.Time, del bool) error {
	verb := "deleting"
	if !del {
		verb = "undeleting"
	}
	return d.writeTx(ctx, func(tx pgx.Tx) error {
		var deleted *time.Time
		err := tx.QueryRow(ctx, `SELECT deleted_at FROM secrets WHERE name = $1 FOR UPDATE`, name).Scan(&deleted)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%w: secret %s", store.ErrNotFound, name)
		case err != nil:
			return fmt.Errorf("postgres: %s %s: %w", verb, name, err)
		case del && deleted != nil:
			return fmt.Errorf("%w: %s", store.ErrDeleted, name)
		case !del && deleted == nil:
			return nil
		}
		var at any // the new deleted_at: now, or NULL
		if del {
			at = now.UTC()
		}
		if _, err := tx.Exec(ctx, `UPDATE secrets SET deleted_at = $1, updated_at = $2 WHERE name = $3`, at, now.UTC(), name); err != nil {
			return fmt.Errorf("postgres: %s %s: %w", verb, name, err)
		}
		return nil
	})
}

// Destroy implements store.Secrets.
func (d *DB) Destroy(ctx context.Context, name string, version int, now time.Time) error {
	return d.markVersion(ctx, name, version, `token = '', binding = '\x'::bytea, destroyed_at = $1`, `destroyed_at IS NULL`, now)
}

// MarkCompromised implements store.Secrets.
func (d *DB) MarkCompromised(ctx context.Context, name string, version int, now time.Time) error {
	return d.markVersion(ctx, name, version, `compromised_at = $1`, `compromised_at IS NULL`, now)
}

func (d *DB) markVersion(ctx context.Context, name string, version int, set, unless string, now time.Time) error {
	return d.writeTx(ctx, func(tx pgx.Tx) error {
		var vid int64
		err := tx.QueryRow(ctx, `SELECT v.id FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = $1 AND v.version = $2`, name, version).Scan(&vid)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s version %d", store.ErrNotFound, name, version)
		}
		if err != nil {
			return fmt.Errorf("postgres: %s version %d: %w", name, version, err)
		}
		_, err = tx.Exec(ctx, `UPDATE versions SET `+set+` WHERE id = $2 AND `+unless, now.UTC(), vid)
		return err
	})
}
