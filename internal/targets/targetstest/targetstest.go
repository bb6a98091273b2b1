// Package targetstest gives tests a Redis database and a PostgreSQL schema
// of their own, cleaned up when the test ends.
package targetstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// RedisDB is the Redis database index the tests use; every test works
// under key names of its own (Prefix) and deletes them when it ends.
const RedisDB = 12

// Redis returns the URL of the test Redis (SA01_TEST_REDIS_URL, default
// redis://127.0.0.1:6379/12), a client on it and a key prefix unique to
// the test; every key under the prefix is deleted when the test ends. It
// skips when Redis is unreachable, and fails instead under CI=true.
func Redis(t testing.TB) (string, *redis.Client, string) {
	t.Helper()
	u := os.Getenv("SA01_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/12"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("SA01_TEST_REDIS_URL: %v", err)
	}
	opt.DisableIdentity = true
	rc := redis.NewClient(opt)
	if err := rc.Ping(context.Background()).Err(); err != nil {
		rc.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s: %v (CI needs it: .ci/run starts it)", opt.Addr, err)
		}
		t.Skipf("no Redis at %s: %v", opt.Addr, err)
	}
	prefix := "sa01test:" + rnd() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				rc.Del(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		rc.Close()
	})
	return u, rc, prefix
}

// Postgres returns a DSN on the database at SA01_TEST_DB_DSN whose
// search_path is a schema of the test's own (dropped at the end), and that
// schema's name. It skips when the variable is unset, and fails under
// CI=true.
func Postgres(t testing.TB) (dsn, schema string) {
	t.Helper()
	base := os.Getenv("SA01_TEST_DB_DSN")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SA01_TEST_DB_DSN is unset")
		}
		t.Skip("SA01_TEST_DB_DSN is unset")
	}
	schema = "targets_" + rnd()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("SA01_TEST_DB_DSN: cannot connect")
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

func rnd() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
