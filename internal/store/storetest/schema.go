package storetest

import (
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/somaagent01/sa01-secrets/internal/store/sqlstore"
)

var update = flag.Bool("update", false, "record the schema dumps missing from testdata/schema")

// SchemaDump migrates a new database with a driver's migrations up to
// version v, then, if open, opens it as the store does (which migrates it to
// the newest version), and returns a text dump of its schema: tables,
// columns, types, constraints, indexes, triggers and the versions goose
// recorded, all that decides how the store's SQL behaves on it.
type SchemaDump func(t *testing.T, v int64, open bool) string

// SchemaHistory checks that migrations, at each of their versions, make the
// schema recorded in testdata/schema/NNNNN.txt, so
// that no change to the migrations alters what an applied version made: a
// database migrated by an older binary has the schema this binary's would,
// version for version. It also checks that a database at each version opens
// and migrates to the newest schema. With -update it records the versions
// that have no dump yet (a new migration); it never rewrites one: delete
// the file to record it again.
func SchemaHistory(t *testing.T, migrations fs.FS, dump SchemaDump) {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, n := range names {
		v, err := goose.NumericComponent(n)
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	if len(versions) == 0 {
		t.Fatal("no migrations")
	}
	newest := versions[len(versions)-1]
	for _, v := range versions {
		golden(t, filepath.Join("testdata", "schema", fmt.Sprintf("%05d.txt", v)), dump(t, v, false))
	}
	want := dump(t, newest, false)
	for _, v := range versions[:len(versions)-1] {
		if got := dump(t, v, true); got != want {
			t.Errorf("a database at version %d, opened, has another schema than a new one:\n%s", v, diffLines(want, got))
		}
	}
}

// golden compares got with the file at path, or with -update writes it
// there if there is none.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if _, err := os.Stat(path); *update && errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to record it)", err)
	}
	if string(want) != got {
		t.Errorf("schema differs from %s:\n%s", path, diffLines(string(want), got))
	}
}

// diffLines lists the lines only in want (-) and only in got (+).
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// GooseVersions lists the versions goose recorded in db, for a SchemaDump.
func GooseVersions(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query(`SELECT version_id, is_applied FROM goose_db_version ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var applied bool
		if err := rows.Scan(&v, &applied); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "goose version %d applied %v\n", v, applied)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// BackupCoversTables fails when db, a migrated store, holds a table that
// backups (sqlstore.LoadTables) do not carry. tables is the query that
// lists db's base tables.
func BackupCoversTables(t *testing.T, db *sql.DB, tables string) {
	t.Helper()
	rows, err := db.Query(tables)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		// state_seal is not copied: the restored chain's seal event stands
		// for it, and the first open with a key writes it again.
		if name == "goose_db_version" || name == "store_generation" || name == "state_seal" || slices.Contains(sqlstore.LoadTables, name) {
			continue
		}
		t.Errorf("table %s is not in sqlstore.LoadTables: backups would drop it", name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < len(sqlstore.LoadTables) {
		t.Fatalf("the schema has %d tables; LoadTables names %d", n, len(sqlstore.LoadTables))
	}
}
