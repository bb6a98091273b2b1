package postgres

import (
	"context"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// swapSQL is the dialect's Swap: one UPDATE over the unnested batch,
// compare-and-swap on each old token.
func swapSQL(swaps []store.TokenSwap) (string, []any) {
	n := len(swaps)
	ids, olds, toks, keys := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	binds := make([][]byte, n)
	for i, s := range swaps {
		ids[i], olds[i], toks[i], keys[i], binds[i] = s.ID, s.Old, s.New.Token, s.New.KeyID, s.New.Binding
	}
	return `UPDATE versions v SET token = u.tok, key_id = u.kid, binding = u.bind
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS u(id, old, tok, kid, bind)
		WHERE v.id = u.id AND v.token = u.old AND v.destroyed_at IS NULL
		RETURNING v.id`, []any{ids, olds, toks, keys, binds}
}

// rotationLockSQL names the advisory lock of this schema's store: nodes
// sharing a schema share it; stores in other schemas do not.
const rotationLockSQL = `hashtext('sa01-secrets/rotation/' || current_schema())`

// LockRotation implements store.Rotation with a session advisory lock held
// on a connection taken from the pool for the duration. The server releases
// it when the connection ends, so a killed process never leaves it held.
func (d *DB) LockRotation(ctx context.Context) (func() error, error) {
	unlock, ok, err := d.tryAdvisoryLock(ctx, rotationLockSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: rotation lock: %w", err)
	}
	if !ok {
		return nil, store.ErrLocked
	}
	return unlock, nil
}

// tryAdvisoryLock takes the session advisory lock keySQL (an SQL
// expression of args) without waiting, on a connection of its own kept
// until unlock. ok is false when another session holds it.
func (d *DB) tryAdvisoryLock(ctx context.Context, keySQL string, args ...any) (unlock func() error, ok bool, err error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s", store.ErrUnavailable, reason(err))
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+keySQL+`)`, args...).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() error {
		defer conn.Release()
		_, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock(`+keySQL+`)`, args...)
		if err != nil {
			// Drop the connection rather than return it to the pool
			// still holding the lock.
			_ = conn.Conn().Close(context.Background())
		}
		return err
	}, true, nil
}

// LockPublisher implements audit.Outbox with a session advisory lock
// named after the cursor and this schema, held as LockRotation's is.
func (d *DB) LockPublisher(ctx context.Context, name string) (func() error, bool, error) {
	unlock, ok, err := d.tryAdvisoryLock(ctx, `hashtext('sa01-secrets/publisher/' || $1 || '/' || current_schema())`, name)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: publisher lock: %w", err)
	}
	return unlock, ok, nil
}
