package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

const keyColumns = `key_id, state, created_at, activated_at, deactivated_at, retired_at, retain_until, note`

const keyInsert = `INSERT INTO keys (` + keyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func (s *Store) keyArgs(k store.KeyInfo) []any {
	return []any{k.ID, k.State, s.Time(k.CreatedAt), s.NullTime(k.ActivatedAt), s.NullTime(k.DeactivatedAt),
		s.NullTime(k.RetiredAt), s.NullTime(k.RetainUntil), k.Note}
}

// PutKey implements store.Keys.
func (s *Store) PutKey(ctx context.Context, k store.KeyInfo) error {
	_, err := s.changed(ctx, "recording key "+k.ID, keyInsert+` ON CONFLICT (key_id) DO UPDATE SET state = excluded.state,
		created_at = excluded.created_at, activated_at = excluded.activated_at, deactivated_at = excluded.deactivated_at,
		retired_at = excluded.retired_at, retain_until = excluded.retain_until, note = excluded.note`, s.keyArgs(k)...)
	return err
}

// EnsureKey implements store.Keys.
func (s *Store) EnsureKey(ctx context.Context, k store.KeyInfo) (bool, error) {
	n, err := s.changed(ctx, "recording key "+k.ID, keyInsert+` ON CONFLICT (key_id) DO NOTHING`, s.keyArgs(k)...)
	return n == 1, err
}

func scanKey(r Scanner) (store.KeyInfo, error) {
	var k store.KeyInfo
	err := r.Scan(&k.ID, &k.State, at(&k.CreatedAt), at(&k.ActivatedAt), at(&k.DeactivatedAt), at(&k.RetiredAt), at(&k.RetainUntil), &k.Note)
	return k, err
}

// Key implements store.Keys.
func (s *Store) Key(ctx context.Context, id string) (store.KeyInfo, error) {
	k, err := scanKey(s.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE key_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("%w: key %s", store.ErrNotFound, id)
	}
	if err != nil {
		return k, s.Fail("reading key "+id, err)
	}
	return k, nil
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]store.KeyInfo, error) {
	return rowsOf(ctx, s, nil, "listing keys", scanKey, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, key_id`)
}
