package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Rotation = (*DB)(nil)

// VersionsNotUnder implements store.Rotation.
func (d *DB) VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]store.Version, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT v.id, s.name, v.version, v.token, v.key_id, v.binding
		FROM versions v JOIN secrets s ON s.id = v.secret_id
		WHERE v.id > ? AND v.key_id <> ? AND v.destroyed_at IS NULL ORDER BY v.id LIMIT ?`, after, keyID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading versions to re-encrypt: %w", err)
	}
	defer rows.Close()
	out := make([]store.Version, 0, limit)
	for rows.Next() {
		var v store.Version
		if err := rows.Scan(&v.ID, &v.Secret, &v.Version, &v.Token, &v.KeyID, &v.Binding); err != nil {
			return nil, fmt.Errorf("sqlite: reading versions to re-encrypt: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: reading versions to re-encrypt: %w", err)
	}
	return out, nil
}

// SwapTokens implements store.Rotation: one write transaction, one
// compare-and-swap update per version.
func (d *DB) SwapTokens(ctx context.Context, swaps []store.TokenSwap) ([]bool, error) {
	applied := make([]bool, len(swaps))
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE versions SET token = ?, key_id = ?, binding = ?
			WHERE id = ? AND token = ? AND destroyed_at IS NULL`)
		if err != nil {
			return fmt.Errorf("sqlite: re-encrypting versions: %w", err)
		}
		defer stmt.Close()
		for i, s := range swaps {
			res, err := stmt.ExecContext(ctx, s.New.Token, s.New.KeyID, s.New.Binding, s.ID, s.Old)
			if err != nil {
				return fmt.Errorf("sqlite: re-encrypting version %d: %w", s.ID, err)
			}
			n, _ := res.RowsAffected()
			applied[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// PromoteKey implements store.Rotation.
func (d *DB) PromoteKey(ctx context.Context, id string, now, retainUntil time.Time) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM keys WHERE key_id = ?`, id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: key %s", store.ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: promoting key %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET state = 'decrypt-only', deactivated_at = ?, retain_until = ?
			WHERE state = 'active' AND key_id <> ?`, micros(now), micros(retainUntil), id); err != nil {
			return fmt.Errorf("sqlite: promoting key %s: %w", id, err)
		}
		if state != store.KeyActive {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET state = 'active', activated_at = ?, deactivated_at = NULL, retain_until = NULL
				WHERE key_id = ?`, micros(now), id); err != nil {
				return fmt.Errorf("sqlite: promoting key %s: %w", id, err)
			}
		}
		return nil
	})
}

// LockRotation implements store.Rotation with an flock on a file beside the
// database (FILE.rotate-lock, 0600): every process using a SQLite store
// runs on its host, and the kernel releases the lock when the holder dies.
func (d *DB) LockRotation(ctx context.Context) (func() error, error) {
	f, err := os.OpenFile(d.path+".rotate-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, notWritable(d.path+".rotate-lock", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, store.ErrLocked
		}
		return nil, fmt.Errorf("sqlite: rotation lock: %w", err)
	}
	return f.Close, nil
}
