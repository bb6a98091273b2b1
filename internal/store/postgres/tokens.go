package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

var _ store.Tokens = (*DB)(nil)

const tokenCols = `accessor, hash, service, issued_at, expires_at, max_expiry, revoked_at`

func scanToken(r pgx.Row) (token.Record, error) {
	var t token.Record
	var hash []byte
	var revoked *time.Time
	if err := r.Scan(&t.Accessor, &hash, &t.Service, &t.IssuedAt, &t.ExpiresAt, &t.MaxExpiry, &revoked); err != nil {
		return t, err
	}
	if len(hash) != len(t.Hash) {
		return t, errors.New("postgres: token record with a malformed hash")
	}
	copy(t.Hash[:], hash)
	t.IssuedAt, t.ExpiresAt, t.MaxExpiry, t.RevokedAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC(), t.MaxExpiry.UTC(), fromPtr(revoked)
	return t, nil
}

// CreateToken implements token.Store.
func (d *DB) CreateToken(ctx context.Context, r token.Record) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.Accessor, r.Hash[:], r.Service, r.IssuedAt.UTC(), r.ExpiresAt.UTC(), r.MaxExpiry.UTC(), nt(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: recording token %s: %w", r.Accessor, err)
	}
	return nil
}

func (d *DB) tokenWhere(ctx context.Context, where string, arg any) (token.Record, error) {
	t, err := scanToken(d.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, token.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("postgres: reading a token record: %w", err)
	}
	return t, nil
}

// TokenByHash implements token.Store.
func (d *DB) TokenByHash(ctx context.Context, hash [32]byte) (token.Record, error) {
	return d.tokenWhere(ctx, `hash = $1`, hash[:])
}

// TokenByAccessor implements token.Store.
func (d *DB) TokenByAccessor(ctx context.Context, accessor string) (token.Record, error) {
	return d.tokenWhere(ctx, `accessor = $1`, accessor)
}

// RenewToken implements token.Store.
func (d *DB) RenewToken(ctx context.Context, accessor string, expiresAt time.Time) error {
	tag, err := d.pool.Exec(ctx, `UPDATE tokens SET expires_at = $1 WHERE accessor = $2 AND revoked_at IS NULL`, expiresAt.UTC(), accessor)
	if err != nil {
		return fmt.Errorf("postgres: renewing token %s: %w", accessor, err)
	}
	if tag.RowsAffected() == 0 {
		return token.ErrNotFound
	}
	return nil
}

// RevokeToken implements token.Store.
func (d *DB) RevokeToken(ctx context.Context, accessor string, at time.Time) error {
	tag, err := d.pool.Exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE accessor = $2`, at.UTC(), accessor)
	if err != nil {
		return fmt.Errorf("postgres: revoking token %s: %w", accessor, err)
	}
	if tag.RowsAffected() == 0 {
		return token.ErrNotFound
	}
	return nil
}

// RevokeServiceTokens implements token.Store.
func (d *DB) RevokeServiceTokens(ctx context.Context, service string, at time.Time) ([]string, error) {
	rows, err := d.pool.Query(ctx, `UPDATE tokens SET revoked_at = $1 WHERE service = $2 AND revoked_at IS NULL RETURNING accessor`, at.UTC(), service)
	if err != nil {
		return nil, fmt.Errorf("postgres: revoking tokens of %s: %w", service, err)
	}
	accs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: revoking tokens of %s: %w", service, err)
	}
	return accs, nil
}

// CountLiveTokens implements token.Store.
func (d *DB) CountLiveTokens(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND expires_at > $1`, now.UTC()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: counting tokens: %w", err)
	}
	return n, nil
}

// PurgeTokens implements token.Store.
func (d *DB) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at < $1 OR revoked_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("postgres: purging tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
