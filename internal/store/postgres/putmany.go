package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

// putManyChunk bounds the rows one round of PutMany locks and writes.
const putManyChunk = 2000

// putMany is the dialect's PutMany: in rounds of putManyChunk writes that
// each take a handful of round trips (lock the existing secrets, create
// the missing ones, insert the versions, update the secrets, each from
// arrays), so large imports do not pay a round trip per row.
func putMany(ctx context.Context, s *sqlstore.Store, tx *sql.Tx, ws []store.Write) error {
	for lo := 0; lo < len(ws); lo += putManyChunk {
		if err := putChunk(ctx, s, tx, ws[lo:min(lo+putManyChunk, len(ws))]); err != nil {
			return err
		}
	}
	return nil
}

func lockSecrets(ctx context.Context, d *sqlstore.Store, tx *sql.Tx, names []string, into map[string]*store.Secret) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlstore.SecretColumns+` FROM secrets s WHERE s.name = ANY($1) ORDER BY s.name FOR UPDATE`, names)
	if err != nil {
		return d.Fail("locking secrets", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := sqlstore.ScanSecret(rows)
		if err != nil {
			return d.Fail("locking secrets", err)
		}
		into[s.Name] = &s
	}
	if err := rows.Err(); err != nil {
		return d.Fail("locking secrets", err)
	}
	return nil
}

// secretArrays are columns of secrets rows, for unnest.
type secretArrays struct {
	class, desc, owner, env []string
	rot                     []int64
	at                      []time.Time
}

func (a *secretArrays) add(s *store.Secret, at time.Time) {
	a.class, a.desc, a.owner, a.env = append(a.class, s.Class), append(a.desc, s.Description), append(a.owner, s.Owner), append(a.env, s.EnvName)
	a.rot, a.at = append(a.rot, int64(s.RotationPeriod/time.Second)), append(a.at, at)
}

func putChunk(ctx context.Context, d *sqlstore.Store, tx *sql.Tx, ws []store.Write) error {
	var names []string
	first := map[string]store.Write{}
	for _, w := range ws {
		if _, ok := first[w.Name]; !ok {
			first[w.Name] = w
			names = append(names, w.Name)
		}
	}
	m := make(map[string]*store.Secret, len(names))
	if err := lockSecrets(ctx, d, tx, names, m); err != nil {
		return err
	}
	// Create the missing secrets, defaults plus the first write's metadata.
	var created []string
	var c secretArrays
	for _, n := range names {
		if _, ok := m[n]; ok {
			continue
		}
		w := first[n]
		if w.CAS != nil && *w.CAS != 0 {
			return fmt.Errorf("%w: %s does not exist, not at version %d", store.ErrConflict, n, *w.CAS)
		}
		s := store.Secret{Name: n, Class: store.ClassConfig}
		w.Meta.ApplyTo(&s)
		created = append(created, n)
		c.add(&s, w.Now.UTC().Truncate(time.Microsecond))
	}
	if len(created) > 0 {
		_, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, class, rotation_period, description, owner, env_name, created_at, updated_at, current_version)
			SELECT n, c, r, d, o, e, t, t, 0 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u(n, c, r, d, o, e, t)
			ON CONFLICT (name) DO NOTHING`, created, c.class, c.rot, c.desc, c.owner, c.env, c.at)
		if err != nil {
			return d.Fail("creating secrets", err)
		}
		// Lock what was created, here or by a concurrent writer.
		if err := lockSecrets(ctx, d, tx, created, m); err != nil {
			return err
		}
	}
	var (
		vSecret            []int64
		vNum               []int32
		vTok, vKey, vActor []string
		vBind              [][]byte
		vAt                []time.Time
	)
	touched := map[string]bool{}
	seals := map[string]store.StateSealer{} // the last write's sealer of each secret
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
		w.Meta.ApplyTo(s)
		next := s.CurrentVersion + 1
		sealed, err := w.Seal(next)
		if err != nil {
			return err
		}
		now := w.Now.UTC().Truncate(time.Microsecond)
		vSecret, vNum, vAt = append(vSecret, s.ID), append(vNum, int32(next)), append(vAt, now)
		vTok, vKey, vBind, vActor = append(vTok, sealed.Token), append(vKey, sealed.KeyID), append(vBind, sealed.Binding), append(vActor, w.Actor)
		s.CurrentVersion, s.UpdatedAt = next, now
		touched[w.Name] = true
		seals[w.Name] = w.SealState
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO versions (secret_id, version, token, key_id, binding, created_at, actor)
		SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::bytea[], $6::timestamptz[], $7::text[])`,
		vSecret, vNum, vTok, vKey, vBind, vAt, vActor); err != nil {
		return d.Fail("adding versions", err) // a version written concurrently: ErrConflict
	}
	var (
		uID  []int64
		uVer []int32
		u    secretArrays
	)
	for _, n := range names {
		if !touched[n] {
			continue
		}
		s := m[n]
		uID, uVer = append(uID, s.ID), append(uVer, int32(s.CurrentVersion))
		u.add(s, s.UpdatedAt)
	}
	_, err := tx.ExecContext(ctx, `UPDATE secrets SET current_version = u.v, updated_at = u.t, class = u.c, rotation_period = u.r, description = u.d, owner = u.o, env_name = u.e
		FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[]) AS u(id, v, t, c, r, d, o, e)
		WHERE secrets.id = u.id`, uID, uVer, u.at, u.class, u.rot, u.desc, u.owner, u.env)
	if err != nil {
		return d.Fail("updating secrets", err)
	}
	// The new states' MACs, each read back in this transaction: an
	// import is no bulk path for them (docs/store.md, "State MACs").
	for _, n := range names {
		if seal := seals[n]; touched[n] && seal != nil {
			if err := d.SealStateIn(ctx, tx, m[n].ID, seal); err != nil {
				return err
			}
		}
	}
	return nil
}
