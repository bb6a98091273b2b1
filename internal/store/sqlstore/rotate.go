package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// VersionsNotUnder implements store.Rotation. The name comes from a
// correlated subquery: one index lookup per row whatever plan is chosen
// (a join may hash the whole secrets table for every batch under a
// generic plan).
func (s *Store) VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]store.Version, error) {
	out := make([]store.Version, 0, limit)
	err := s.collect(ctx, "reading versions to re-encrypt", func(r Scanner) error {
		var v store.Version
		err := r.Scan(&v.ID, &v.Secret, &v.Version, &v.Token, &v.KeyID, &v.Binding)
		out = append(out, v)
		return err
	}, `SELECT v.id, (SELECT s.name FROM secrets s WHERE s.id = v.secret_id), v.version, v.token, v.key_id, v.binding
		FROM versions v
		WHERE v.id > $1 AND v.key_id <> $2 AND v.destroyed_at IS NULL ORDER BY v.id LIMIT $3`, after, keyID, limit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SwapTokens implements store.Rotation: one write transaction, each chunk
// of swaps one statement of the dialect's (Dialect.Swap) that returns the
// IDs of the versions it changed.
func (s *Store) SwapTokens(ctx context.Context, swaps []store.TokenSwap) ([]bool, error) {
	applied := make([]bool, len(swaps))
	if len(swaps) == 0 {
		return applied, nil
	}
	index := make(map[int64]int, len(swaps))
	for i, sw := range swaps {
		index[sw.ID] = i
	}
	chunk := s.d.SwapChunk
	if chunk <= 0 {
		chunk = len(swaps)
	}
	err := s.WriteTx(ctx, func(tx *sql.Tx) error {
		if s.d.SwapPrologue != "" {
			if _, err := tx.ExecContext(ctx, s.d.SwapPrologue); err != nil {
				return s.Fail("re-encrypting versions", err)
			}
		}
		var full *sql.Stmt // a whole chunk's statement, prepared once where the dialect prepares
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		for lo := 0; lo < len(swaps); lo += chunk {
			q, args := s.d.Swap(swaps[lo:min(lo+chunk, len(swaps))])
			var rows *sql.Rows
			var err error
			switch {
			case s.d.Prepare && lo+chunk <= len(swaps):
				if full == nil {
					if full, err = tx.PrepareContext(ctx, q); err != nil {
						return s.Fail("re-encrypting versions", err)
					}
				}
				rows, err = full.QueryContext(ctx, args...)
			default:
				rows, err = tx.QueryContext(ctx, q, args...)
			}
			if err == nil {
				err = each(rows, func(r Scanner) error {
					var id int64
					if err := r.Scan(&id); err != nil {
						return err
					}
					if i, ok := index[id]; ok {
						applied[i] = true
					}
					return nil
				})
			}
			if err != nil {
				return s.Fail("re-encrypting versions", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// PromoteKey implements store.Rotation.
func (s *Store) PromoteKey(ctx context.Context, id string, now, retainUntil time.Time) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM keys WHERE key_id = $1`+s.d.ForUpdate, id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: key %s", store.ErrNotFound, id)
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE keys SET state = 'decrypt-only', deactivated_at = $1, retain_until = $2
				WHERE state = 'active' AND key_id <> $3`, s.Time(now), s.Time(retainUntil), id)
		}
		if err == nil && state != store.KeyActive {
			_, err = tx.ExecContext(ctx, `UPDATE keys SET state = 'active', activated_at = $1, deactivated_at = NULL, retain_until = NULL
				WHERE key_id = $2`, s.Time(now), id)
		}
		if err != nil {
			return s.Fail("promoting key "+id, err)
		}
		return nil
	})
}
