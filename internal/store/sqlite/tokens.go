package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

var _ store.Tokens = (*DB)(nil)

const tokenCols = `accessor, hash, service, issued_at, expires_at, max_expiry, revoked_at`

func scanToken(r scanner) (token.Record, error) {
	var t token.Record
	var hash []byte
	var issued, exp, maxExp int64
	var revoked sql.NullInt64
	if err := r.Scan(&t.Accessor, &hash, &t.Service, &issued, &exp, &maxExp, &revoked); err != nil {
		return t, err
	}
	if len(hash) != len(t.Hash) {
		return t, errors.New("sqlite: token record with a malformed hash")
	}
	copy(t.Hash[:], hash)
	t.IssuedAt, t.ExpiresAt, t.MaxExpiry, t.RevokedAt = fromMicros(issued), fromMicros(exp), fromMicros(maxExp), fromNull(revoked)
	return t, nil
}

// CreateToken implements token.Store.
func (d *DB) CreateToken(ctx context.Context, r token.Record) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.Accessor, r.Hash[:], r.Service, micros(r.IssuedAt), micros(r.ExpiresAt), micros(r.MaxExpiry), nullMicros(r.RevokedAt))
		if err != nil {
			return fmt.Errorf("sqlite: recording token %s: %w", r.Accessor, err)
		}
		return nil
	})
}

func (d *DB) tokenWhere(ctx context.Context, where string, arg any) (token.Record, error) {
	t, err := scanToken(d.read.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return t, token.ErrNotFound
	}
	if err != nil {
		return t, d.classify("reading a token record", err)
	}
	return t, nil
}

// TokenByHash implements token.Store.
func (d *DB) TokenByHash(ctx context.Context, hash [32]byte) (token.Record, error) {
	return d.tokenWhere(ctx, `hash = ?`, hash[:])
}

// TokenByAccessor implements token.Store.
func (d *DB) TokenByAccessor(ctx context.Context, accessor string) (token.Record, error) {
	return d.tokenWhere(ctx, `accessor = ?`, accessor)
}

// RenewToken implements token.Store.
func (d *DB) RenewToken(ctx context.Context, accessor string, expiresAt time.Time) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET expires_at = ? WHERE accessor = ? AND revoked_at IS NULL`, micros(expiresAt), accessor)
		if err != nil {
			return fmt.Errorf("sqlite: renewing token %s: %w", accessor, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return token.ErrNotFound
		}
		return nil
	})
}

// RevokeToken implements token.Store.
func (d *DB) RevokeToken(ctx context.Context, accessor string, at time.Time) error {
	return d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE accessor = ?`, micros(at), accessor)
		if err != nil {
			return fmt.Errorf("sqlite: revoking token %s: %w", accessor, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return token.ErrNotFound
		}
		return nil
	})
}

// RevokeServiceTokens implements token.Store.
func (d *DB) RevokeServiceTokens(ctx context.Context, service string, at time.Time) ([]string, error) {
	var accs []string
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		accs = accs[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE service = ? AND revoked_at IS NULL RETURNING accessor`, micros(at), service)
		if err != nil {
			return fmt.Errorf("sqlite: revoking tokens of %s: %w", service, err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return err
			}
			accs = append(accs, a)
		}
		return rows.Err()
	})
	return accs, err
}

// CountLiveTokens implements token.Store.
func (d *DB) CountLiveTokens(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.read.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND expires_at > ?`, micros(now)).Scan(&n)
	if err != nil {
		return 0, d.classify("counting tokens", err)
	}
	return n, nil
}

// PurgeTokens implements token.Store.
func (d *DB) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at < ? OR revoked_at < ?`, micros(before), micros(before))
		if err != nil {
			return fmt.Errorf("sqlite: purging tokens: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
