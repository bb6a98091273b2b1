package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// putManyChunk bounds the rows one round of PutMany locks and writes.
const putManyChunk = 2000

// PutMany implements store.Secrets: in one transaction, in rounds of
// putManyChunk writes that each take a handful of round trips (lock the
// existing secrets, create the missing ones, COPY the versions, update the
// secrets), so large imports do not pay a round trip per row.
func (d *DB) PutMany(ctx context.Context, ws []store.Write) error {
	return d.writeTx(ctx, func(tx pgx.Tx) error {
		for lo := 0; lo < len(ws); lo += putManyChunk {
			if err := putChunk(ctx, tx, ws[lo:min(lo+putManyChunk, len(ws))]); err != nil {
				return err
			}
		}
		return nil
	})
}

func lockSecrets(ctx context.Context, tx pgx.Tx, names []string, into map[string]*store.Secret) error {
	rows, err := tx.Query(ctx, `SELECT `+secretCols+` FROM secrets s WHERE s.name = ANY($1) ORDER BY s.name FOR UPDATE`, names)
	if err != nil {
		return fmt.Errorf("postgres: locking secrets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return fmt.Errorf("postgres: locking secrets: %w", err)
		}
		into[s.Name] = &s
	}
	return rows.Err()
}

func putChunk(ctx context.Context, tx pgx.Tx, ws []store.Write) error {
	var names []string
	first := map[string]store.Write{}
	for _, w := range ws {
		if _, ok := first[w.Name]; !ok {
			first[w.Name] = w
			names = append(names, w.Name)
		}
	}
	m := make(map[string]*store.Secret, len(names))
	if err := lockSecrets(ctx, tx, names, m); err != nil {
		return err
	}
	// Create the missing secrets, defaults plus the first write's metadata.
	var (
		cName, cClass, cDesc, cOwner, cEnv []string
		cRot                               []int64
		cAt                                []time.Time
	)
	for _, n := range names {
		if _, ok := m[n]; ok {
			continue
		}
		w := first[n]
		if w.CAS != nil && *w.CAS != 0 {
			return fmt.Errorf("%w: %s does not exist, not at version %d", store.ErrConflict, n, *w.CAS)
		}
		s := store.Secret{Name: n, Class: store.ClassConfig}
		applyMeta(&s, w.Meta)
		cName, cClass, cDesc, cOwner, cEnv = append(cName, n), append(cClass, s.Class), append(cDesc, s.Description), append(cOwner, s.Owner), append(cEnv, s.EnvName)
		cRot, cAt = append(cRot, int64(s.RotationPeriod/time.Second)), append(cAt, w.Now.UTC().Truncate(time.Microsecond))
	}
	if len(cName) > 0 {
		_, err := tx.Exec(ctx, `INSERT INTO secrets (name, class, rotation_period, description, owner, env_name, created_at, updated_at, current_version)
			SELECT n, c, r, d, o, e, t, t, 0 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u(n, c, r, d, o, e, t)
			ON CONFLICT (name) DO NOTHING`, cName, cClass, cRot, cDesc, cOwner, cEnv, cAt)
		if err != nil {
			return fmt.Errorf("postgres: creating secrets: %w", err)
		}
		// Lock what was created, here or by a concurrent writer.
		if err := lockSecrets(ctx, tx, cName, m); err != nil {
			return err
		}
	}
	var versions [][]any
	touched := map[string]bool{}
	for _, w := range ws {
		s, ok := m[w.Name]
		if !ok {
			return fmt.Errorf("postgres: %s vanished during the write", w.Name)
		}
		switch {
		case s.Deleted():
			return fmt.Errorf("%w: %s", store.ErrDeleted, w.Name)
		case w.CAS != nil && *w.CAS != s.CurrentVersion:
			return fmt.Errorf("%w: %s is at version %d, not %d", store.ErrConflict, w.Name, s.CurrentVersion, *w.CAS)
		}
		applyMeta(s, w.Meta)
		next := s.CurrentVersion + 1
		sealed, err := w.Seal(next)
		if err != nil {
			return err
		}
		now := w.Now.UTC().Truncate(time.Microsecond)
		versions = append(versions, []any{s.ID, next, sealed.Token, sealed.KeyID, sealed.Binding, now, w.Actor})
		s.CurrentVersion, s.UpdatedAt = next, now
		touched[w.Name] = true
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"versions"},
		[]string{"secret_id", "version", "token", "key_id", "binding", "created_at", "actor"}, pgx.CopyFromRows(versions)); err != nil {
		var perr interface{ SQLState() string }
		if errors.As(err, &perr) && perr.SQLState() == "23505" {
			return fmt.Errorf("%w: a version was written concurrently", store.ErrConflict)
		}
		return fmt.Errorf("postgres: adding versions: %w", err)
	}
	var (
		uID                         []int64
		uVer                        []int32
		uClass, uDesc, uOwner, uEnv []string
		uRot                        []int64
		uAt                         []time.Time
	)
	for _, n := range names {
		if !touched[n] {
			continue
		}
		s := m[n]
		uID, uVer, uAt = append(uID, s.ID), append(uVer, int32(s.CurrentVersion)), append(uAt, s.UpdatedAt)
		uClass, uDesc, uOwner, uEnv = append(uClass, s.Class), append(uDesc, s.Description), append(uOwner, s.Owner), append(uEnv, s.EnvName)
		uRot = append(uRot, int64(s.RotationPeriod/time.Second))
	}
	_, err := tx.Exec(ctx, `UPDATE secrets SET current_version = u.v, updated_at = u.t, class = u.c, rotation_period = u.r, description = u.d, owner = u.o, env_name = u.e
		FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[]) AS u(id, v, t, c, r, d, o, e)
		WHERE secrets.id = u.id`, uID, uVer, uAt, uClass, uRot, uDesc, uOwner, uEnv)
	if err != nil {
		return fmt.Errorf("postgres: updating secrets: %w", err)
	}
	return nil
}
