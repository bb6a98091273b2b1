package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somaagent01/sa01-secrets/internal/store/postgres"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestRotationConformance(t *testing.T) {
	cfgs := map[storetest.RotatingStore]*pgxpool.Config{}
	storetest.RunRotation(t, func(t *testing.T, same storetest.RotatingStore) storetest.RotatingStore {
		var cfg *pgxpool.Config
		if same != nil {
			cfg = cfgs[same].Copy()
		} else {
			cfg = pgtest.Config(t)
		}
		db, err := postgres.OpenConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfgs[db] = cfg
		return db
	})
}
