package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
		rows, err := d.pool.Query(ctx, `SELECT v.id, s.name, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.compromised_at
			FROM versions v JOIN secrets s ON s.id = v.secret_id
			WHERE v.id > $1 AND v.destroyed_at IS NULL ORDER BY v.id LIMIT $2`, after, batch)
		if err != nil {
			return fmt.Errorf("postgres: walking versions: %w", err)
		}
		for rows.Next() {
			var v store.Version
			var compromised *time.Time
			if err := rows.Scan(&v.ID, &v.Secret, &v.Version, &v.Token, &v.KeyID, &v.Binding, &v.CreatedAt, &v.Actor, &compromised); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: walking versions: %w", err)
			}
			v.CreatedAt, v.CompromisedAt = v.CreatedAt.UTC(), fromPtr(compromised)
			buf = append(buf, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: walking versions: %w", err)
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
	tag, err := d.pool.Exec(ctx, `UPDATE versions SET token = $1, key_id = $2, binding = $3 WHERE id = $4 AND token = $5 AND destroyed_at IS NULL`,
		s.Token, s.KeyID, s.Binding, id, old)
	if err != nil {
		return false, fmt.Errorf("postgres: updating version %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CountByKey implements store.Versions.
func (d *DB) CountByKey(ctx context.Context) (map[string]int64, error) {
	rows, err := d.pool.Query(ctx, `SELECT key_id, count(*) FROM versions WHERE destroyed_at IS NULL GROUP BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: counting versions: %w", err)
	}
	out := map[string]int64{}
	var k string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: counting versions: %w", err)
	}
	return out, nil
}
