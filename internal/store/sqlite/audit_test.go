package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) (storetest.AuditStore, func() storetest.AuditStore) {
		path := filepath.Join(t.TempDir(), "s", "secrets.db")
		open := func() storetest.AuditStore {
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open
	})
}

func TestGenerationConformance(t *testing.T) {
	storetest.RunGenerations(t, func(t *testing.T) (storetest.GenerationStore, func() storetest.GenerationStore) {
		path := filepath.Join(t.TempDir(), "s", "secrets.db")
		open := func() storetest.GenerationStore {
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open
	})
}
