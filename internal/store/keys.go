package store

import (
	"context"
	"time"
)

// Key states.
const (
	KeyPending     = "pending"
	KeyActive      = "active"
	KeyDecryptOnly = "decrypt-only"
	KeyRetired     = "retired"
	KeyCompromised = "compromised"
)

// KeyStates lists the valid states.
var KeyStates = []string{KeyPending, KeyActive, KeyDecryptOnly, KeyRetired, KeyCompromised}

// KeyInfo is what the store knows of a Fernet key: its ID and lifecycle,
// never the key.
type KeyInfo struct {
	ID            string
	State         string
	CreatedAt     time.Time
	ActivatedAt   time.Time
	DeactivatedAt time.Time
	RetiredAt     time.Time
	RetainUntil   time.Time // zero: no retention deadline
	Note          string
}

// Keys records key lifecycles.
type Keys interface {
	// PutKey inserts or replaces a key's record.
	PutKey(ctx context.Context, k KeyInfo) error
	// EnsureKey inserts k unless a record with its ID exists; it reports
	// whether it inserted.
	EnsureKey(ctx context.Context, k KeyInfo) (bool, error)
	// Key returns one key's record. ErrNotFound.
	Key(ctx context.Context, id string) (KeyInfo, error)
	// ListKeys returns every key record, oldest first.
	ListKeys(ctx context.Context) ([]KeyInfo, error)
}

// KeyEnded returns the predicate "the store records this key as retired or
// compromised": a key that is to open nothing new (audit.LoadKey neither
// keeps nor makes the audit key's wrapping under it).
func KeyEnded(ctx context.Context, ks Keys) func(id string) bool {
	return func(id string) bool {
		k, err := ks.Key(ctx, id)
		return err == nil && (k.State == KeyRetired || k.State == KeyCompromised)
	}
}
