package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() (store.Store, error) {
		cfg := pgtest.Config(t) // a new schema
		return func() (store.Store, error) { return postgres.OpenConfig(context.Background(), cfg.Copy()) }
	})
}

func TestUnreachable(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of a closed port: %v, want ErrUnavailable", err)
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") {
		t.Fatalf("error reveals the password: %s", msg)
	}
}

func TestMalformedDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2@[::1/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("malformed DSN: %v", err)
	}
}

// TestExists: a database never migrated holds no store, and Exists does
// not make one; after Open it does.
func TestExists(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Config(t)
	for range 2 {
		if ok, err := postgres.ExistsConfig(ctx, cfg.Copy()); err != nil || ok {
			t.Fatalf("Exists on an empty schema = %v, %v", ok, err)
		}
	}
	db, err := postgres.OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if ok, err := postgres.ExistsConfig(ctx, cfg.Copy()); err != nil || !ok {
		t.Fatalf("Exists after Open = %v, %v", ok, err)
	}
	if _, err := postgres.Exists(ctx, "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2"); !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Exists on a closed port: %v", err)
	}
}

// TestBackupCoversEveryTable fails when the schema has a table that
// backups (sqlstore.LoadTables) do not carry.
func TestBackupCoversEveryTable(t *testing.T) {
	db := stdlib.OpenDBFromPool(pgtest.Open(t).Pool())
	defer db.Close()
	storetest.BackupCoversTables(t, db,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
}
