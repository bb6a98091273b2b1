package sqlite

import (
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
)

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) store.Tokens {
		db := newStore(t).(*DB)
		t.Cleanup(func() { db.Close() })
		return db
	})
}
