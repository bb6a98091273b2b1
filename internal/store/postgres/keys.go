package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

const keyCols = `key_id, state, created_at, activated_at, deactivated_at, retired_at, retain_until, note`

func keyArgs(k store.KeyInfo) []any {
	return []any{k.ID, k.State, k.CreatedAt.UTC(), nt(k.ActivatedAt), nt(k.DeactivatedAt), nt(k.RetiredAt), nt(k.RetainUntil), k.Note}
}

// PutKey implements store.Keys.
func (d *DB) PutKey(ctx context.Context, k store.KeyInfo) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (key_id) DO UPDATE SET state = excluded.state, created_at = excluded.created_at,
		activated_at = excluded.activated_at, deactivated_at = excluded.deactivated_at, retired_at = excluded.retired_at,
		retain_until = excluded.retain_until, note = excluded.note`, keyArgs(k)...)
	if err != nil {
		return fmt.Errorf("postgres: recording key %s: %w", k.ID, err)
	}
	return nil
}

// EnsureKey implements store.Keys.
func (d *DB) EnsureKey(ctx context.Context, k store.KeyInfo) (bool, error) {
	tag, err := d.pool.Exec(ctx, `INSERT INTO keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key_id) DO NOTHING`, keyArgs(k)...)
	if err != nil {
		return false, fmt.Errorf("postgres: recording key %s: %w", k.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

func scanKey(r pgx.Row) (store.KeyInfo, error) {
	var k store.KeyInfo
	var act, deact, ret, until *time.Time
	if err := r.Scan(&k.ID, &k.State, &k.CreatedAt, &act, &deact, &ret, &until, &k.Note); err != nil {
		return k, err
	}
	k.CreatedAt, k.ActivatedAt, k.DeactivatedAt = k.CreatedAt.UTC(), fromPtr(act), fromPtr(deact)
	k.RetiredAt, k.RetainUntil = fromPtr(ret), fromPtr(until)
	return k, nil
}

// Key implements store.Keys.
func (d *DB) Key(ctx context.Context, id string) (store.KeyInfo, error) {
	k, err := scanKey(d.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM keys WHERE key_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return k, fmt.Errorf("%w: key %s", store.ErrNotFound, id)
	}
	if err != nil {
		return k, fmt.Errorf("postgres: reading key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys implements store.Keys.
func (d *DB) ListKeys(ctx context.Context) ([]store.KeyInfo, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+keyCols+` FROM keys ORDER BY created_at, key_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing keys: %w", err)
	}
	defer rows.Close()
	var out []store.KeyInfo
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
