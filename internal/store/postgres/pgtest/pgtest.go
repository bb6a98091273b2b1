// Package pgtest gives each test its own PostgreSQL schema in the database
// named by SA01_TEST_DB_DSN, dropped when the test ends. Tests skip when
// the variable is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
)

// EnvDSN names the test database.
const EnvDSN = "SA01_TEST_DB_DSN"

// Config returns a pool configuration whose search_path is a new, empty
// schema, dropped (with everything in it) at the end of the test. It skips
// the test when SA01_TEST_DB_DSN is unset.
func Config(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skip(EnvDSN + " is unset; skipping PostgreSQL tests")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "sa01_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	cfg, err := postgres.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// Open returns a migrated store in a new schema; it is closed at the end of
// the test.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.OpenConfig(context.Background(), Config(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
