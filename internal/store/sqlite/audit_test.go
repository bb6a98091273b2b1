package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

// nodes opens a fresh store, and returns a function that opens another
// handle on its file (another process).
func nodes(t *testing.T) (*DB, func() *DB) {
	path := filepath.Join(t.TempDir(), "s", "secrets.db")
	open := func() *DB {
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return open(), open
}

func TestAuditConformance(t *testing.T) { storetest.RunAudit(t, nodes) }

func TestGenerationConformance(t *testing.T) { storetest.RunGenerations(t, nodes) }
