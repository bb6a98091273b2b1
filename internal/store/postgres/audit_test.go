package postgres_test

import (
	"context"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) (storetest.AuditStore, func() storetest.AuditStore) {
		cfg := pgtest.Config(t)
		open := func() storetest.AuditStore {
			db, err := postgres.OpenConfig(context.Background(), cfg.Copy())
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
		cfg := pgtest.Config(t)
		open := func() storetest.GenerationStore {
			db, err := postgres.OpenConfig(context.Background(), cfg.Copy())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open
	})
}
