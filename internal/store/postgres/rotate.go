package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Rotation = (*DB)(nil)

// VersionsNotUnder implements store.Rotation.
func (d *DB) VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]store.Version, error) {
	// The name comes from a correlated subquery: one index lookup per row
	// whatever plan is chosen (a join may hash the whole secrets table for
	// every batch under a generic plan).
	rows, err := d.pool.Query(ctx, `SELECT v.id, (SELECT s.name FROM secrets s WHERE s.id = v.secret_id), v.version, v.token, v.key_id, v.binding
		FROM versions v
		WHERE v.id > $1 AND v.key_id <> $2 AND v.destroyed_at IS NULL ORDER BY v.id LIMIT $3`, after, keyID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading versions to re-encrypt: %w", err)
	}
	defer rows.Close()
	out := make([]store.Version, 0, limit)
	for rows.Next() {
		var v store.Version
		if err := rows.Scan(&v.ID, &v.Secret, &v.Version, &v.Token, &v.KeyID, &v.Binding); err != nil {
			return nil, fmt.Errorf("postgres: reading versions to re-encrypt: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: reading versions to re-encrypt: %w", err)
	}
	return out, nil
}

// SwapTokens implements store.Rotation: one transaction, one UPDATE over the
// unnested batch, compare-and-swap on each old token.
func (d *DB) SwapTokens(ctx context.Context, swaps []store.TokenSwap) ([]bool, error) {
	n := len(swaps)
	ids, olds, toks, keys := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	binds := make([][]byte, n)
	at := make(map[int64]int, n)
	for i, s := range swaps {
		ids[i], olds[i], toks[i], keys[i], binds[i] = s.ID, s.Old, s.New.Token, s.New.KeyID, s.New.Binding
		at[s.ID] = i
	}
	applied := make([]bool, n)
	err := d.writeTx(ctx, func(tx pgx.Tx) error {
		// A batch lost to a server crash is only redone by the next run (the
		// old key stays loaded until nothing uses it), and the synchronous
		// commit of PromoteKey flushes every batch before it: no need to
		// wait for the WAL flush of each batch.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return fmt.Errorf("postgres: re-encrypting versions: %w", err)
		}
		rows, err := tx.Query(ctx, `UPDATE versions v SET token = u.tok, key_id = u.kid, binding = u.bind
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS u(id, old, tok, kid, bind)
			WHERE v.id = u.id AND v.token = u.old AND v.destroyed_at IS NULL
			RETURNING v.id`, ids, olds, toks, keys, binds)
		if err != nil {
			return fmt.Errorf("postgres: re-encrypting versions: %w", err)
		}
		var id int64
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
			if i, ok := at[id]; ok {
				applied[i] = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: re-encrypting versions: %w", err)
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
	return d.withTx(ctx, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM keys WHERE key_id = $1 FOR UPDATE`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: key %s", store.ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("postgres: promoting key %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE keys SET state = 'decrypt-only', deactivated_at = $1, retain_until = $2
			WHERE state = 'active' AND key_id <> $3`, now.UTC(), retainUntil.UTC(), id); err != nil {
			return fmt.Errorf("postgres: promoting key %s: %w", id, err)
		}
		if state != store.KeyActive {
			if _, err := tx.Exec(ctx, `UPDATE keys SET state = 'active', activated_at = $1, deactivated_at = NULL, retain_until = NULL
				WHERE key_id = $2`, now.UTC(), id); err != nil {
				return fmt.Errorf("postgres: promoting key %s: %w", id, err)
			}
		}
		return nil
	})
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

// LockPublisher implements audit.PublishLocker with a session advisory lock
// named after the cursor and this schema, held as LockRotation's is.
func (d *DB) LockPublisher(ctx context.Context, name string) (func() error, bool, error) {
	unlock, ok, err := d.tryAdvisoryLock(ctx, `hashtext('sa01-secrets/publisher/' || $1 || '/' || current_schema())`, name)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: publisher lock: %w", err)
	}
	return unlock, ok, nil
}
