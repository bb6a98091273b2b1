package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

const (
	identityColumns   = `name, kind, role, created_at, revoked_at`
	credentialColumns = `id, identity, hash, created_at, expires_at, revoked_at`
)

// CreateIdentity implements identity.Store.
func (s *Store) CreateIdentity(ctx context.Context, id identity.Identity, c identity.Credential) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO identities (`+identityColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			id.Name, string(id.Kind), string(id.Role), s.Time(id.CreatedAt), s.NullTime(id.RevokedAt))
		if err != nil {
			err = s.Fail("creating identity "+id.Name, err)
			if errors.Is(err, store.ErrConflict) {
				return identity.ErrExists
			}
			return err
		}
		return s.insertCredential(ctx, tx, c)
	})
}

func (s *Store) insertCredential(ctx context.Context, tx *sql.Tx, c identity.Credential) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO credentials (`+credentialColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.Identity, c.Hash[:], s.Time(c.CreatedAt), s.Time(c.ExpiresAt), s.NullTime(c.RevokedAt))
	if err != nil {
		return s.Fail("recording credential "+c.ID, err)
	}
	return nil
}

func scanIdentity(r Scanner) (identity.Identity, error) {
	var id identity.Identity
	var kind, role string
	err := r.Scan(&id.Name, &kind, &role, at(&id.CreatedAt), at(&id.RevokedAt))
	id.Kind, id.Role = identity.Kind(kind), identity.Role(role)
	return id, err
}

// IdentityByName implements identity.Store.
func (s *Store) IdentityByName(ctx context.Context, name string) (identity.Identity, error) {
	id, err := scanIdentity(s.read.QueryRowContext(ctx, `SELECT `+identityColumns+` FROM identities WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return id, identity.ErrNotFound
	}
	if err != nil {
		return id, s.Fail("reading identity "+name, err)
	}
	return id, nil
}

// ListIdentities implements identity.Store.
func (s *Store) ListIdentities(ctx context.Context) ([]identity.Identity, error) {
	return rowsOf(ctx, s, nil, "listing identities", scanIdentity, `SELECT `+identityColumns+` FROM identities ORDER BY name`+s.d.Collate)
}

// AddCredential implements identity.Store.
func (s *Store) AddCredential(ctx context.Context, c identity.Credential, others time.Time) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM identities WHERE name = $1 AND revoked_at IS NULL`, c.Identity).Scan(&n)
		if err != nil {
			return s.Fail("reading identity "+c.Identity, err)
		}
		if n == 0 {
			return identity.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET expires_at = $1 WHERE identity = $2 AND revoked_at IS NULL AND expires_at > $1`,
			s.Time(others), c.Identity); err != nil {
			return s.Fail("shortening the credentials of "+c.Identity, err)
		}
		return s.insertCredential(ctx, tx, c)
	})
}

func scanCredential(r Scanner, d string) (identity.Credential, error) {
	var c identity.Credential
	var hash []byte
	err := r.Scan(&c.ID, &c.Identity, &hash, at(&c.CreatedAt), at(&c.ExpiresAt), at(&c.RevokedAt))
	if err == nil && len(hash) != len(c.Hash) {
		return c, fmt.Errorf("%s: credential record with a malformed hash", d)
	}
	copy(c.Hash[:], hash)
	return c, err
}

// CredentialByHash implements identity.Store.
func (s *Store) CredentialByHash(ctx context.Context, hash [32]byte) (identity.Credential, error) {
	c, err := scanCredential(s.read.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE hash = $1`, hash[:]), s.d.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return c, identity.ErrNotFound
	}
	if err != nil {
		return c, s.Fail("reading a credential record", err)
	}
	return c, nil
}

// ListCredentials implements identity.Store.
func (s *Store) ListCredentials(ctx context.Context, name string) ([]identity.Credential, error) {
	scan := func(r Scanner) (identity.Credential, error) { return scanCredential(r, s.d.Name) }
	q := `SELECT ` + credentialColumns + ` FROM credentials`
	if name == "" {
		return rowsOf(ctx, s, nil, "listing credentials", scan, q+` ORDER BY identity`+s.d.Collate+`, created_at, id`)
	}
	return rowsOf(ctx, s, nil, "listing credentials", scan, q+` WHERE identity = $1 ORDER BY created_at, id`, name)
}

// RevokeIdentity implements identity.Store.
func (s *Store) RevokeIdentity(ctx context.Context, name string, t time.Time) (int, error) {
	var n int64
	err := s.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE identities SET revoked_at = COALESCE(revoked_at, $1) WHERE name = $2`, s.Time(t), name)
		if err != nil {
			return s.Fail("revoking identity "+name, err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return s.Fail("revoking identity "+name, err)
		} else if k == 0 {
			return identity.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET revoked_at = $1 WHERE identity = $2 AND revoked_at IS NULL`, s.Time(t), name); err != nil {
			return s.Fail("revoking the credentials of "+name, err)
		}
		res, err = tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE service = $2 AND revoked_at IS NULL`, s.Time(t), name)
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err != nil {
			return s.Fail("revoking the tokens of "+name, err)
		}
		return nil
	})
	return int(n), err
}
