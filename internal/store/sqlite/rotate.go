package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Rotation = (*DB)(nil)

// VersionsNotUnder implements store.Rotation.
func (d *DB) VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]store.Version, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT v.id, (SELECT s.name FROM secrets s WHERE s.id = v.secret_id), v.version, v.token, v.key_id, v.binding
		FROM versions v
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

// swapChunk is how many swaps one UPDATE statement carries (5 bound
// values each, well under SQLite's limit of 32766).
const swapChunk = 500

// SwapTokens implements store.Rotation: one write transaction; each chunk
// of swaps is one UPDATE ... FROM (VALUES ...) with compare-and-swap on the
// old token, RETURNING the rows it changed.
func (d *DB) SwapTokens(ctx context.Context, swaps []store.TokenSwap) ([]bool, error) {
	applied := make([]bool, len(swaps))
	if len(swaps) == 0 {
		return applied, nil
	}
	at := make(map[int64]int, len(swaps))
	for i, s := range swaps {
		at[s.ID] = i
	}
	// Checkpoint the WAL every 64 MiB rather than every 4 MiB while
	// re-encrypting: fewer, larger checkpoints and fewer fsyncs on the
	// write connection, which is the serial stage of a re-encryption. The
	// setting stays on the connection for the rest of the process.
	if _, err := d.write.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 16384`); err != nil {
		return nil, fmt.Errorf("sqlite: re-encrypting versions: %w", err)
	}
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt
		for lo := 0; lo < len(swaps); lo += swapChunk {
			part := swaps[lo:min(lo+swapChunk, len(swaps))]
			args := make([]any, 0, 5*len(part))
			for _, s := range part {
				args = append(args, s.ID, s.Old, s.New.Token, s.New.KeyID, s.New.Binding)
			}
			var rows *sql.Rows
			var err error
			if len(part) == swapChunk {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, swapSQL(swapChunk)); err != nil {
						return fmt.Errorf("sqlite: re-encrypting versions: %w", err)
					}
					defer full.Close()
				}
				rows, err = full.QueryContext(ctx, args...)
			} else {
				rows, err = tx.QueryContext(ctx, swapSQL(len(part)), args...)
			}
			if err != nil {
				return fmt.Errorf("sqlite: re-encrypting versions: %w", err)
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return fmt.Errorf("sqlite: re-encrypting versions: %w", err)
				}
				if i, ok := at[id]; ok {
					applied[i] = true
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("sqlite: re-encrypting versions: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

func swapSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE versions SET token = u.column3, key_id = u.column4, binding = u.column5 FROM (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("(?,?,?,?,?)")
	}
	b.WriteString(`) AS u WHERE versions.id = u.column1 AND versions.token = u.column2 AND versions.destroyed_at IS NULL RETURNING versions.id`)
	return b.String()
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
	unlock, ok, err := tryFlock(d.path + ".rotate-lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: rotation lock: %w", err)
	}
	if !ok {
		return nil, store.ErrLocked
	}
	return unlock, nil
}

// LockPublisher implements audit.PublishLocker with an flock on a file
// beside the database, one per cursor (FILE.publish-<hash of the cursor
// name>.lock, 0600), as LockRotation does.
func (d *DB) LockPublisher(ctx context.Context, name string) (func() error, bool, error) {
	sum := sha256.Sum256([]byte(name))
	unlock, ok, err := tryFlock(d.path + ".publish-" + hex.EncodeToString(sum[:8]) + ".lock")
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: publisher lock: %w", err)
	}
	return unlock, ok, nil
}

// tryFlock takes an exclusive flock on path (created 0600) without
// waiting; ok is false when another holder has it. unlock closes the file,
// which releases it.
func tryFlock(path string) (unlock func() error, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, notWritable(path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f.Close, true, nil
}
