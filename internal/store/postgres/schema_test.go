package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

// migrations is this binary's migrations, and with withFuture one more, as
// a newer binary would carry.
func migrations(t *testing.T, withFuture bool) fstest.MapFS {
	ents, err := fs.ReadDir(postgres.Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, e := range ents {
		b, err := fs.ReadFile(postgres.Migrations(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	if withFuture {
		fsys["00099_future.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE future (x INTEGER);\n-- +goose Down\nDROP TABLE future;\n")}
	}
	return fsys
}

func TestSchemaVersions(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Config(t)
	old, err := postgres.OpenWith(ctx, cfg.Copy(), migrations(t, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.Put(ctx, store.Write{Name: "kept", Seal: func(int) (store.Sealed, error) {
		return store.Sealed{Token: "t", KeyID: "k", Binding: []byte{1}}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	// a newer binary migrates the older database and keeps its data
	newer, err := postgres.OpenWith(ctx, cfg.Copy(), migrations(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := newer.SchemaVersion(ctx); err != nil || v != 99 {
		t.Fatalf("schema after migrating: %d, %v", v, err)
	}
	if _, v, err := newer.Get(ctx, "kept", 0); err != nil || v.Token != "t" {
		t.Fatalf("data lost: %+v %v", v, err)
	}
	newer.Close()

	// an older binary refuses it
	_, err = postgres.OpenConfig(ctx, cfg.Copy())
	var se *store.SchemaError
	if !errors.As(err, &se) || se.DBVersion != 99 {
		t.Fatalf("older binary on a newer database: %v, want SchemaError", err)
	}
}

// TestSchemaHistory: the migrations make, version for version, the schema
// recorded in testdata/schema, as PostgreSQL's catalog describes it.
func TestSchemaHistory(t *testing.T) {
	storetest.SchemaHistory(t, postgres.Migrations(), func(t *testing.T, v int64, open bool) string {
		ctx := context.Background()
		cfg := pgtest.Config(t)
		db := stdlib.OpenDB(*cfg.ConnConfig.Copy())
		defer db.Close()
		p, err := goose.NewProvider(goose.DialectPostgres, db, postgres.Migrations())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, v); err != nil {
			t.Fatal(err)
		}
		if open {
			st, err := postgres.OpenConfig(ctx, cfg.Copy())
			if err != nil {
				t.Fatalf("opening a store at version %d: %v", v, err)
			}
			st.Close()
		}
		return dumpSchema(t, db)
	})
}

// dumpSchema is the schema of db's search_path, its name replaced by
// SCHEMA: columns, constraints, indexes, sequences, functions, triggers,
// and the versions goose recorded.
func dumpSchema(t *testing.T, db *sql.DB) string {
	var schema string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, q := range []string{
		`SELECT 'column ' || table_name || '.' || column_name, concat_ws(' ', data_type, 'nullable=' || is_nullable, 'default=' || column_default)
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
		`SELECT 'constraint ' || conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY 1`,
		`SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1`,
		`SELECT 'sequence ' || sequence_name, data_type FROM information_schema.sequences WHERE sequence_schema = current_schema() ORDER BY 1`,
		`SELECT 'function ' || proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace ORDER BY 1`,
		`SELECT 'trigger ' || tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace ORDER BY 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var what, def string
			if err := rows.Scan(&what, &def); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: %s\n", what, def)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	b.WriteString(storetest.GooseVersions(t, db))
	return strings.ReplaceAll(b.String(), schema, "SCHEMA")
}
