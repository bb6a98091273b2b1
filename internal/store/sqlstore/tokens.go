package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

const tokenColumns = `accessor, hash, service, issued_at, expires_at, max_expiry, revoked_at`

// CreateToken implements token.Store.
func (s *Store) CreateToken(ctx context.Context, r token.Record) error {
	_, err := s.changed(ctx, "recording token "+r.Accessor, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.Accessor, r.Hash[:], r.Service, s.Time(r.IssuedAt), s.Time(r.ExpiresAt), s.Time(r.MaxExpiry), s.NullTime(r.RevokedAt))
	return err
}

func (s *Store) tokenWhere(ctx context.Context, where string, arg any) (token.Record, error) {
	var t token.Record
	var hash []byte
	err := s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE `+where, arg).Scan(
		&t.Accessor, &hash, &t.Service, at(&t.IssuedAt), at(&t.ExpiresAt), at(&t.MaxExpiry), at(&t.RevokedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return t, token.ErrNotFound
	}
	if err != nil {
		return t, s.Fail("reading a token record", err)
	}
	if len(hash) != len(t.Hash) {
		return t, fmt.Errorf("%s: token record with a malformed hash", s.d.Name)
	}
	copy(t.Hash[:], hash)
	return t, nil
}

// TokenByHash implements token.Store.
func (s *Store) TokenByHash(ctx context.Context, hash [32]byte) (token.Record, error) {
	return s.tokenWhere(ctx, `hash = $1`, hash[:])
}

// TokenByAccessor implements token.Store.
func (s *Store) TokenByAccessor(ctx context.Context, accessor string) (token.Record, error) {
	return s.tokenWhere(ctx, `accessor = $1`, accessor)
}

// RenewToken implements token.Store.
func (s *Store) RenewToken(ctx context.Context, accessor string, expiresAt time.Time) error {
	n, err := s.changed(ctx, "renewing token "+accessor, `UPDATE tokens SET expires_at = $1 WHERE accessor = $2 AND revoked_at IS NULL`,
		s.Time(expiresAt), accessor)
	if err == nil && n == 0 {
		return token.ErrNotFound
	}
	return err
}

// RevokeToken implements token.Store.
func (s *Store) RevokeToken(ctx context.Context, accessor string, at time.Time) error {
	n, err := s.changed(ctx, "revoking token "+accessor, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE accessor = $2`,
		s.Time(at), accessor)
	if err == nil && n == 0 {
		return token.ErrNotFound
	}
	return err
}

// RevokeServiceTokens implements token.Store.
func (s *Store) RevokeServiceTokens(ctx context.Context, service string, at time.Time) ([]string, error) {
	var accs []string
	err := s.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE service = $2 AND revoked_at IS NULL RETURNING accessor`,
			s.Time(at), service)
		if err == nil {
			err = each(rows, func(r Scanner) error {
				var a string
				accs = append(accs, a)
				return r.Scan(&accs[len(accs)-1])
			})
		}
		if err != nil {
			return s.Fail("revoking tokens of "+service, err)
		}
		return nil
	})
	return accs, err
}

// CountLiveTokens implements token.Store.
func (s *Store) CountLiveTokens(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND expires_at > $1`, s.Time(now)).Scan(&n)
	if err != nil {
		return 0, s.Fail("counting tokens", err)
	}
	return n, nil
}

// PurgeTokens implements token.Store.
func (s *Store) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	n, err := s.changed(ctx, "purging tokens", `DELETE FROM tokens WHERE expires_at < $1 OR revoked_at < $1`, s.Time(before))
	return int(n), err
}

// WatchRevocations implements store.Revocations for a store that serves
// one node: its revocations invalidate its caches in process, so there is
// nothing to watch. The PostgreSQL driver overrides it.
func (s *Store) WatchRevocations(context.Context, store.RevocationHandler) error { return nil }
