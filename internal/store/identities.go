package store

import "github.com/somaagent01/sa01-secrets/internal/identity"

// Identities keeps identities and their credential records: SHA-256
// hashes and non-secret IDs, never a credential (tables identities and
// credentials, migration 00006); identity.Manager uses it. Its errors are
// identity.ErrNotFound and identity.ErrExists.
type Identities interface {
	identity.Store
}
