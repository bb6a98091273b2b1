package postgres_test

import (
	"context"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

// nodes opens a store in a new schema, and returns a function that opens
// another handle on it (another node).
func nodes(t *testing.T) (*postgres.DB, func() *postgres.DB) {
	cfg := pgtest.Config(t)
	open := func() *postgres.DB {
		db, err := postgres.OpenConfig(context.Background(), cfg.Copy())
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
