package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/somaagent01/sa01-secrets/internal/audit"

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

// TestLoadRebuildsIndexes: a load sets the secondary indexes of versions
// and audit_events aside and builds them again before its commit, from
// their own definitions: after a committed load, and after one rolled
// back, the indexes are those the migrations made, and they hold the
// loaded rows.
func TestLoadRebuildsIndexes(t *testing.T) {
	ctx := context.Background()
	st := pgtest.Open(t)
	db := stdlib.OpenDBFromPool(st.Pool())
	defer db.Close()
	indexes := func() string {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT indexname || ': ' || indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename IN ('versions', 'audit_events') ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var all []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			all = append(all, s)
		}
		return strings.Join(all, "\n")
	}
	before := indexes()
	for _, name := range []string{"audit_events_secret", "audit_events_service", "versions_key_id", "audit_events_pkey"} {
		if !strings.Contains(before, name+": ") {
			t.Fatalf("no index %s:\n%s", name, before)
		}
	}
	l, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := indexes(); got != before {
		t.Fatalf("after a rolled back load:\n%s\nwant\n%s", got, before)
	}
	if l, err = st.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var es []audit.Entry
	for i := range 3 {
		es = append(es, audit.Entry{Seq: int64(i + 1), Prev: "p", Hash: "h", Event: audit.Event{Time: time.Unix(0, int64(i)), Service: "gateway",
			Action: "read", Secret: "llm/openai_api_key", Outcome: audit.Success}})
	}
	if err := l.AuditEvents(ctx, es); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := indexes(); got != before {
		t.Fatalf("after a load:\n%s\nwant\n%s", got, before)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE secret = 'llm/openai_api_key'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("loaded events by secret: %d, %v", n, err)
	}
}

// TestLoadLockWaitIsBounded: a load into a store another session holds
// (a writer's open transaction on the store generation, a reader's on
// versions, whose indexes the load drops) fails with ErrUnavailable once
// the lock timeout has passed, rather than wait for that session; once it
// has ended, a load goes through.
func TestLoadLockWaitIsBounded(t *testing.T) {
	defer postgres.SetLoadLockTimeout(200 * time.Millisecond)()
	st := pgtest.Open(t)
	for _, hold := range []string{
		`UPDATE store_generation SET n = n + 1 WHERE id = 1`,
		`SELECT count(*) FROM versions`,
	} {
		other, err := pgx.ConnectConfig(context.Background(), st.Pool().Config().ConnConfig)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close(context.Background()) }) // before the schema is dropped
		if _, err := other.Exec(context.Background(), `BEGIN`); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Exec(context.Background(), hold); err != nil {
			t.Fatal(err)
		}
		// The deadline only keeps a load that waits without bound from
		// hanging the test.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		l, err := st.Load(ctx)
		if err == nil {
			_ = l.Rollback()
		}
		late := ctx.Err()
		cancel()
		if !errors.Is(err, store.ErrUnavailable) || late != nil {
			t.Fatalf("load while another session holds %q: %v, want ErrUnavailable", hold, err)
		}
		other.Close(context.Background())
		if l, err = st.Load(context.Background()); err != nil {
			t.Fatalf("load once the other session has ended: %v", err)
		}
		if err := l.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}
