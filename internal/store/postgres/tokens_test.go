package postgres_test

import (
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) store.Tokens {
		db := pgtest.Open(t)
		return db
	})
}
