// Command rotatebench seeds a store with many versions of 100-byte values
// encrypted under one key, for timing `sa01-secrets reencrypt` over them
// (run.sh runs both, with /usr/bin/time -v for the peak RSS).
//
//	rotatebench -dsn sqlite:///tmp/b/secrets.db -env /tmp/b/.env -n 1000000
//
// It opens the store through its driver (so the schema is migrated), then
// writes the rows directly, in large transactions (SQLite) or with COPY
// (PostgreSQL), with tokens and row bindings made exactly as the service
// makes them, spread over every core. It then records a second key active
// and writes an env file whose primary is that key and whose previous key
// is the one the data is under: what `reencrypt --env-file` expects.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

type row struct {
	name    string
	token   string
	binding []byte
}

func main() {
	dsn := flag.String("dsn", "", "SA01_SECRETS_DB_DSN of the store to seed (sqlite:///abs/path or postgres://...)")
	envPath := flag.String("env", "", "env file to write")
	n := flag.Int("n", 1_000_000, "versions to write")
	size := flag.Int("size", 100, "value size in bytes")
	flag.Parse()
	if *dsn == "" || *envPath == "" {
		log.Fatal("want -dsn and -env")
	}
	ctx := context.Background()
	old, next := fernet.GenerateKey(), fernet.GenerateKey()
	start := time.Now()
	var st interface {
		store.Store
		store.Rotation
	}
	var write func(rows []row) error
	switch {
	case strings.HasPrefix(*dsn, "sqlite://"):
		path := strings.TrimPrefix(*dsn, "sqlite://")
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			log.Fatal(err)
		}
		st = db
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=busy_timeout(10000)")
		if err != nil {
			log.Fatal(err)
		}
		raw.SetMaxOpenConns(1)
		defer raw.Close()
		write = func(rows []row) error { return writeSQLite(ctx, raw, rows, old.ID()) }
	case strings.HasPrefix(*dsn, "postgres://"), strings.HasPrefix(*dsn, "postgresql://"):
		db, err := postgres.Open(ctx, *dsn)
		if err != nil {
			log.Fatal(err)
		}
		st = db
		write = func(rows []row) error { return writePostgres(ctx, db, rows, old.ID()) }
	default:
		log.Fatal("unknown DSN scheme")
	}
	defer st.Close()

	// Make the rows on every core, write them in chunks of 50,000.
	const chunk = 50_000
	value := strings.Repeat("v", *size)
	for lo := 0; lo < *n; lo += chunk {
		hi := min(lo+chunk, *n)
		rows := make([]row, hi-lo)
		var wg sync.WaitGroup
		w := runtime.GOMAXPROCS(0)
		per := (len(rows) + w - 1) / w
		for k := range w {
			wg.Add(1)
			go func(a, b int) {
				defer wg.Done()
				for i := a; i < b; i++ {
					name := fmt.Sprintf("bench/secret_%07d", lo+i)
					v := fmt.Sprintf("%07d", lo+i) + value[7:]
					tok := string(old.Encrypt([]byte(v)))
					rows[i] = row{name: name, token: tok, binding: secrets.Bind(old, name, 1, old.ID(), tok)}
				}
			}(k*per, min((k+1)*per, len(rows)))
		}
		wg.Wait()
		if err := write(rows); err != nil {
			log.Fatal(err)
		}
	}
	now := time.Now().UTC()
	if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: old.ID(), State: store.KeyActive, CreatedAt: now, ActivatedAt: now}); err != nil {
		log.Fatal(err)
	}
	if err := st.PutKey(ctx, store.KeyInfo{ID: next.ID(), State: store.KeyPending, CreatedAt: now}); err != nil {
		log.Fatal(err)
	}
	if err := st.PromoteKey(ctx, next.ID(), now, now.Add(30*24*time.Hour)); err != nil {
		log.Fatal(err)
	}
	env := "SA01_CRYPTO_FERNET_KEY=" + next.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + old.Encode() + "\n"
	if err := os.WriteFile(*envPath, []byte(env), 0o600); err != nil {
		log.Fatal(err)
	}
	counts, err := st.CountByKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "seeded %d versions under key %s in %s; target key %s\n", counts[old.ID()], old.ID(), time.Since(start).Round(time.Millisecond), next.ID())
}

func writeSQLite(ctx context.Context, db *sql.DB, rows []row, keyID string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixMicro()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO secrets (name, class, rotation_period, created_at, updated_at, current_version) VALUES (?, 'config', 0, ?, ?, 1)`)
	if err != nil {
		return err
	}
	ver, err := tx.PrepareContext(ctx, `INSERT INTO versions (secret_id, version, token, key_id, binding, created_at, actor) VALUES (?, 1, ?, ?, ?, ?, 'bench')`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		res, err := ins.ExecContext(ctx, r.name, now, now)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		if _, err := ver.ExecContext(ctx, id, r.token, keyID, r.binding, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func writePostgres(ctx context.Context, db *postgres.DB, rows []row, keyID string) error {
	now := time.Now().UTC()
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.name
	}
	// Secrets first, returning their IDs in order.
	ids := make([]int64, 0, len(rows))
	res, err := tx.Query(ctx, `INSERT INTO secrets (name, class, rotation_period, created_at, updated_at, current_version)
		SELECT n, 'config', 0, $2, $2, 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(n, o) ORDER BY o RETURNING id`, names, now)
	if err != nil {
		return err
	}
	var id int64
	if _, err := pgx.ForEachRow(res, []any{&id}, func() error { ids = append(ids, id); return nil }); err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"versions"}, []string{"secret_id", "version", "token", "key_id", "binding", "created_at", "actor"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			return []any{ids[i], 1, rows[i].token, keyID, rows[i].binding, now, "bench"}, nil
		}))
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}
