package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

// TestSchemaHistory: the migrations make, version for version, the schema
// recorded in testdata/schema. SQLite keeps each CREATE statement's text,
// so the dump is that text, to the byte.
func TestSchemaHistory(t *testing.T) {
	storetest.SchemaHistory(t, Migrations(), func(t *testing.T, v int64, open bool) string {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "secrets.db")
		raw, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		p, err := goose.NewProvider(goose.DialectSQLite3, raw, Migrations())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, v); err != nil {
			t.Fatal(err)
		}
		if open {
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("opening a store at version %d: %v", v, err)
			}
			db.Close()
		}
		return dumpSchema(t, raw)
	})
}

// dumpSchema is the schema of db: every object's CREATE statement as
// SQLite keeps it, and the versions goose recorded.
func dumpSchema(t *testing.T, db *sql.DB) string {
	var b strings.Builder
	rows, err := db.Query(`SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, name, tbl, q string
		if err := rows.Scan(&typ, &name, &tbl, &q); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s on %s:\n%s\n\n", typ, name, tbl, q)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	b.WriteString(storetest.GooseVersions(t, db))
	return b.String()
}
