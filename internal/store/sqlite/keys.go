package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

const keyCols = `key_id, state, created_at, activated_at, deactivated_at, retired_at, retain_until, note`

func keyArgs(k store.KeyInfo) []any {
	return []any{k.ID, k.State, micros(k.CreatedAt), nullMicros(k.ActivatedAt), nullMicros(k.DeactivatedAt),
		nullMicros(k.RetiredAt), nullMicros(k.RetainUntil), k.Note}
}

// PutKey implements store.Keys.
func (d *DB) PutKey(ctx context.Context, k store.KeyInfo) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key_id) DO UPDATE SET state = excluded.state, created_at = excluded.created_at,
			activated_at = excluded.activated_at, deactivated_at = excluded.deactivated_at, retired_at = excluded.retired_at,
			retain_until = excluded.retain_until, note = excluded.note`, keyArgs(k)...)
		if err != nil {
			return fmt.Errorf("sqlite: recording key %s: %w", k.ID, err)
		}
		return nil
	})
}

// EnsureKey implements store.Keys.
func (d *DB) EnsureKey(ctx context.Context, k store.KeyInfo) (bool, error) {
	var inserted bool
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING`, keyArgs(k)...)
		if err != nil {
			return fmt.Errorf("sqlite: recording key %s: %w", k.ID, err)
		}
		n, _ := res.RowsAffected()
		inserted = n == 1
		return nil
	})
	return inserted, err
}

func scanKey(r scanner) (store.KeyInfo, error) {
	var k store.KeyInfo
	var created int64
	var act, deact, ret, until sql.NullInt64
	if err := r.Scan(&k.ID, &k.State, &created, &act, &deact, &ret, &until, &k.Note); err != nil {
		return k, err
	}
	k.CreatedAt, k.ActivatedAt, k.DeactivatedAt = fromMicros(created), fromNull(act), fromNull(deact)
	k.RetiredAt, k.RetainUntil = fromNull(ret), fromNull(until)
	return k, nil
}

// Key implements store.Keys.
func (d *DB) Key(ctx context.Context, id string) (store.KeyInfo, error) {
	k, err := scanKey(d.read.QueryRowContext(ctx, `SELECT `+keyCols+` FROM keys WHERE key_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("%w: key %s", store.ErrNotFound, id)
	}
	if err != nil {
		return k, fmt.Errorf("sqlite: reading key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys implements store.Keys.
func (d *DB) ListKeys(ctx context.Context) ([]store.KeyInfo, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT `+keyCols+` FROM keys ORDER BY created_at, key_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing keys: %w", err)
	}
	defer rows.Close()
	var out []store.KeyInfo
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
