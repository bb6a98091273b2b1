package store

import "context"

// Versions serves jobs over every stored version: verification,
// re-encryption and known-value scanning.
type Versions interface {
	// WalkVersions calls fn with batches of at most batch versions (tokens
	// and bindings included, destroyed versions skipped), in ID order,
	// using keyset pagination: memory stays bounded by one batch whatever
	// the store's size. fn must not keep the slice. An error from fn stops
	// the walk and is returned.
	WalkVersions(ctx context.Context, batch int, fn func([]Version) error) error
	// UpdateToken replaces a version's token, key ID and binding only if its
	// token is still old (compare-and-swap), so two nodes re-encrypting at
	// once cannot overwrite each other. It reports whether it applied.
	UpdateToken(ctx context.Context, id int64, old string, s Sealed) (bool, error)
	// CountByKey returns how many live (not destroyed) versions each key ID
	// encrypted.
	CountByKey(ctx context.Context) (map[string]int64, error)
}
