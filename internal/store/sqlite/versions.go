package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// WalkVersions implements store.Versions.
func (d *DB) WalkVersions(ctx context.Context, batch int, fn func([]store.Version) error) error {
	if batch <= 0 {
		batch = 1000
	}
	buf := make([]store.Version, 0, batch)
	var after int64
	for {
		buf = buf[:0]
		rows, err := d.read.QueryContext(ctx, `SELECT v.id, s.name, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.compromised_at
			FROM versions v JOIN secrets s ON s.id = v.secret_id
			WHERE v.id > ? AND v.destroyed_at IS NULL ORDER BY v.id LIMIT ?`, after, batch)
		if err != nil {
			return fmt.Errorf("sqlite: walking versions: %w", err)
		}
		for rows.Next() {
			var v store.Version
			var created int64
			var compromised sql.NullInt64
			if err := rows.Scan(&v.ID, &v.Secret, &v.Version, &v.Token, &v.KeyID, &v.Binding, &created, &v.Actor, &compromised); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: walking versions: %w", err)
			}
			v.CreatedAt, v.CompromisedAt = fromMicros(created), fromNull(compromised)
			buf = append(buf, v)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlite: walking versions: %w", err)
		}
		if len(buf) == 0 {
			return nil
		}
		after = buf[len(buf)-1].ID
		if err := fn(buf); err != nil {
			return err
		}
		if len(buf) < batch {
			return nil
		}
	}
}

// UpdateToken implements store.Versions.
func (d *DB) UpdateToken(ctx context.Context, id int64, old string, s store.Sealed) (bool, error) {
	var applied bool
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE versions SET token = ?, key_id = ?, binding = ? WHERE id = ? AND token = ? AND destroyed_at IS NULL`,
			s.Token, s.KeyID, s.Binding, id, old)
		if err != nil {
			return fmt.Errorf("sqlite: updating version %d: %w", id, err)
		}
		n, _ := res.RowsAffected()
		applied = n == 1
		return nil
	})
	return applied, err
}

// CountByKey implements store.Versions.
func (d *DB) CountByKey(ctx context.Context) (map[string]int64, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT key_id, count(*) FROM versions WHERE destroyed_at IS NULL GROUP BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: counting versions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("sqlite: counting versions: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}
