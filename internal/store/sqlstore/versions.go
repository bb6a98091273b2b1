package sqlstore

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// WalkVersions implements store.Versions.
func (s *Store) WalkVersions(ctx context.Context, batch int, fn func([]store.Version) error) error {
	return walkByID(ctx, s, batch, "walking versions", func(r Scanner) (store.Version, error) {
		var v store.Version
		err := r.Scan(&v.ID, &v.Secret, &v.Version, &v.Token, &v.KeyID, &v.Binding, at(&v.CreatedAt), &v.Actor, at(&v.CompromisedAt))
		return v, err
	}, func(v store.Version) int64 { return v.ID }, `SELECT v.id, s.name, v.version, v.token, v.key_id, v.binding, v.created_at, v.actor, v.compromised_at
			FROM versions v JOIN secrets s ON s.id = v.secret_id
			WHERE v.id > $1 AND v.destroyed_at IS NULL ORDER BY v.id LIMIT $2`, fn)
}

// UpdateToken implements store.Versions.
func (s *Store) UpdateToken(ctx context.Context, id int64, old string, sealed store.Sealed) (bool, error) {
	n, err := s.changed(ctx, "updating a version", `UPDATE versions SET token = $1, key_id = $2, binding = $3
		WHERE id = $4 AND token = $5 AND destroyed_at IS NULL`, sealed.Token, sealed.KeyID, sealed.Binding, id, old)
	return n == 1, err
}

// CountByKey implements store.Versions.
func (s *Store) CountByKey(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.collect(ctx, "counting versions", func(r Scanner) error {
		var k string
		var n int64
		err := r.Scan(&k, &n)
		out[k] = n
		return err
	}, `SELECT key_id, count(*) FROM versions WHERE destroyed_at IS NULL GROUP BY key_id`)
	if err != nil {
		return nil, err
	}
	return out, nil
}
