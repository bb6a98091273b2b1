package token_test

import (
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/storetest"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) store.Tokens { return token.NewMemStore() })
}
