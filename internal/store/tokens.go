package store

import "github.com/somaagent01/sa01-secrets/internal/token"

// Tokens keeps service token records: SHA-256 hashes and non-secret
// accessors, never a token (table tokens, migration 00002); the server's
// token.Manager uses it. Its errors are token.ErrNotFound for a missing
// record.
type Tokens interface {
	token.Store
}
