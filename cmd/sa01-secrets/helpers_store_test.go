package main

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite"
)

// markNewer records a migration from a newer binary in the store at path.
func markNewer(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)`); err != nil {
		t.Fatal(err)
	}
}
