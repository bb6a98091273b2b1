package store

import (
	"context"
	"errors"
	"time"
)

// TokenSwap replaces one version's token, key ID and binding, but only if
// the version still holds Old.
type TokenSwap struct {
	ID  int64  // the version's row ID
	Old string // the token the version must still hold
	New Sealed
}

// ErrLocked: another process holds the store's rotation lock.
var ErrLocked = errors.New("store: another rotation holds the rotation lock")

// Rotation is what key rotation needs of a store beyond its keys and
// versions.
type Rotation interface {
	// VersionsNotUnder returns up to limit live (not destroyed) versions,
	// tokens and bindings included, whose key ID is not keyID and whose row
	// ID is greater than after, in ID order.
	VersionsNotUnder(ctx context.Context, keyID string, after int64, limit int) ([]Version, error)
	// SwapTokens applies, in one transaction, every swap whose version still
	// holds its Old token (compare-and-swap), and reports for each whether
	// it applied. A destroyed version is never written.
	SwapTokens(ctx context.Context, swaps []TokenSwap) ([]bool, error)
	// PromoteKey makes key id active (activated at now, retention cleared)
	// and every other active key decrypt-only (deactivated at now, retained
	// until retainUntil), in one transaction. ErrNotFound when id has no
	// record.
	PromoteKey(ctx context.Context, id string, now, retainUntil time.Time) error
	// LockRotation takes the store-wide rotation lock without waiting:
	// ErrLocked when another process holds it. The lock is released by
	// unlock, and by the death of the process (kill -9 included).
	LockRotation(ctx context.Context) (unlock func() error, err error)
}
