// Command targetsbench seeds the platform's data for timing
// `sa01-secrets reencrypt --targets`: a Redis hash of N fields and a
// PostgreSQL table of N rows, each value a Fernet token of a 40-byte value
// under the old key; a SQLite store whose active key is the new one, with
// the connection strings as secrets; the env file (new key primary, old
// key previous) and the targets file. run.sh times the re-encryption.
//
//	targetsbench -dir /tmp/b -redis redis://127.0.0.1:6379/12 -hash bench:gateway:secrets -pg postgres://... -n 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

func main() {
	dir := flag.String("dir", "", "directory for the store, env file and targets file")
	redisURL := flag.String("redis", "", "Redis URL (with its database index); empty: no Redis target")
	hash := flag.String("hash", "bench:gateway:secrets", "the hash to fill")
	pgDSN := flag.String("pg", "", "PostgreSQL DSN (search_path set to a schema of the bench's own); empty: no PostgreSQL target")
	n := flag.Int("n", 1_000_000, "fields and rows")
	flag.Parse()
	if *dir == "" {
		log.Fatal("want -dir")
	}
	ctx := context.Background()
	old, next := fernet.GenerateKey(), fernet.GenerateKey()
	start := time.Now()

	st, err := sqlite.Open(ctx, filepath.Join(*dir, "secrets.db"))
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: old.ID(), State: store.KeyActive, CreatedAt: now, ActivatedAt: now}); err != nil {
		log.Fatal(err)
	}
	if _, err := st.EnsureKey(ctx, store.KeyInfo{ID: next.ID(), State: store.KeyPending, CreatedAt: now}); err != nil {
		log.Fatal(err)
	}
	if err := st.PromoteKey(ctx, next.ID(), now, now.Add(30*24*time.Hour)); err != nil {
		log.Fatal(err)
	}
	ring, _ := fernet.NewRing(next, old)
	svc := secrets.New(st, ring, nil, nil)
	targetsYAML := "targets:\n"
	if *redisURL != "" {
		if _, err := svc.Put(ctx, "platform/redis_url", sensitive.New(*redisURL), secrets.PutOptions{}); err != nil {
			log.Fatal(err)
		}
		targetsYAML += fmt.Sprintf("  gateway-redis:\n    redis: {url_secret: platform/redis_url, hash: %q}\n", *hash)
	}
	if *pgDSN != "" {
		if _, err := svc.Put(ctx, "platform/db_dsn", sensitive.New(*pgDSN), secrets.PutOptions{}); err != nil {
			log.Fatal(err)
		}
		targetsYAML += "  tenant-credentials:\n    postgres: {dsn_secret: platform/db_dsn, table: llm_credentials, column: api_key_enc, key: id}\n"
	}
	st.Close()
	env := "SA01_CRYPTO_FERNET_KEY=" + next.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + old.Encode() + "\n"
	if err := os.WriteFile(filepath.Join(*dir, ".env"), []byte(env), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*dir, "targets.yaml"), []byte(targetsYAML), 0o600); err != nil {
		log.Fatal(err)
	}

	// The tokens, made over every core.
	toks := make([]string, *n)
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for p := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < *n; i += w {
				toks[i] = string(old.Encrypt(fmt.Appendf(nil, "sk-proj-%032d", i)))
			}
		}()
	}
	wg.Wait()

	if *redisURL != "" {
		opt, err := redis.ParseURL(*redisURL)
		if err != nil {
			log.Fatal(err)
		}
		rc := redis.NewClient(opt)
		if err := rc.Del(ctx, *hash).Err(); err != nil {
			log.Fatal(err)
		}
		pipe := rc.Pipeline()
		for i := 0; i < *n; i += 1000 {
			args := make([]any, 0, 2000)
			for j := i; j < min(i+1000, *n); j++ {
				args = append(args, fmt.Sprintf("provider:p%d", j), toks[j])
			}
			pipe.HSet(ctx, *hash, args...)
			if pipe.Len() == 50 {
				if _, err := pipe.Exec(ctx); err != nil {
					log.Fatal(err)
				}
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			log.Fatal(err)
		}
		rc.Close()
	}
	if *pgDSN != "" {
		conn, err := pgx.Connect(ctx, *pgDSN)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS llm_credentials; CREATE TABLE llm_credentials (id bigint PRIMARY KEY, tenant text NOT NULL, api_key_enc text)`); err != nil {
			log.Fatal(err)
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == *n {
				return nil, nil
			}
			i++
			return []any{int64(i), "tenant", toks[i-1]}, nil
		})
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"llm_credentials"}, []string{"id", "tenant", "api_key_enc"}, src); err != nil {
			log.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `VACUUM ANALYZE llm_credentials`); err != nil {
			log.Fatal(err)
		}
		conn.Close(ctx)
	}
	fmt.Fprintf(os.Stderr, "seeded %d tokens per target under key %s (primary now %s) in %s\n", *n, old.ID(), next.ID(), time.Since(start).Round(time.Millisecond))
}
