package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store"
)

// openStore opens the store at path, closed when the test ends.
func openStore(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openRaw opens the file at path with the driver alone, as a program that
// knows nothing of sa01-secrets would; query is the DSN's parameters.
func openRaw(t *testing.T, path, query string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?"+query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// rawGeneration reads the generation through a connection of its own, as
// another program would.
func rawGeneration(t *testing.T, raw *sql.DB) uint64 {
	t.Helper()
	var n uint64
	if err := raw.QueryRow(`SELECT n FROM store_generation WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGenerationMovesOnRawSQL: SQL run on the file by a program that knows
// nothing of sa01-secrets (sqlite3 by hand) moves the generation too, since
// triggers move it (storetest.RunGenerations covers the store's own writes).
func TestGenerationMovesOnRawSQL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.db")
	db := openStore(t, path)
	raw := openRaw(t, path, "_pragma=busy_timeout(5000)")
	for _, name := range []string{"a", "b"} {
		if _, _, err := db.Put(ctx, store.Write{Name: name, Now: storeNow, Seal: func(int) (store.Sealed, error) {
			return store.Sealed{Token: name, KeyID: "k", Binding: []byte{1}}, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`UPDATE versions SET token = 'forged' WHERE secret_id = (SELECT id FROM secrets WHERE name = 'a')`,
		`UPDATE secrets SET env_name = 'X' WHERE name = 'a'`,
		`DELETE FROM versions WHERE secret_id = (SELECT id FROM secrets WHERE name = 'b')`,
	} {
		before := rawGeneration(t, raw)
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
		if after := rawGeneration(t, raw); after <= before {
			t.Errorf("%s: generation %d → %d, want it to move", q, before, after)
		}
	}
}
