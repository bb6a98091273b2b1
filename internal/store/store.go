// Package store defines how sa01-secrets keeps its data: the [Store]
// interface, its record types and its sentinel errors. It holds no driver:
// store/sqlstore holds the SQL of both, and store/sqlite (the embedded
// default) and store/postgres (several nodes on one database) their
// dialects, migrations and Open. Only cmd picks one.
//
// The store never sees a key or a plaintext value: a version holds a Fernet
// token, the ID of the key that made it and a row binding (an HMAC that ties
// the token to its secret name, version number and key ID). The secrets
// package computes and checks those.
//
// Store is written as small interfaces ([Secrets], [Versions], [Keys],
// [Audit], ...), each in its own file, and every driver implements all of
// them: a caller holding a Store needs no type assertion.
package store

import (
	"errors"
	"fmt"
)

// Store is everything sa01-secrets needs from storage.
type Store interface {
	Secrets
	Generations
	Versions
	Keys
	Rotation
	Tokens
	Identities
	Audit
	Incidents
	Dumps
	Revocations
	Pages
	Close() error
}

// Sentinel errors. Drivers return them (possibly wrapped); callers test with
// errors.Is.
var (
	// ErrNotFound: no such secret, version or key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a check-and-set write found another current version.
	ErrConflict = errors.New("store: check-and-set conflict")
	// ErrDeleted: the secret is soft-deleted; undelete it first.
	ErrDeleted = errors.New("store: secret is deleted")
	// ErrDestroyed: the version was destroyed; its token is gone for good.
	ErrDestroyed = errors.New("store: version is destroyed")
	// ErrCompromised: the version is marked compromised and is never served.
	ErrCompromised = errors.New("store: version is marked compromised")
	// ErrSchemaTooNew: the database was migrated by a newer binary.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")
	// ErrNotWritable: the store's file or directory cannot be written.
	ErrNotWritable = errors.New("store: not writable")
	// ErrUnavailable: the database cannot be reached.
	ErrUnavailable = errors.New("store: database unavailable")
)

// SchemaError reports a database whose schema is newer than the migrations
// embedded in this binary.
type SchemaError struct {
	DBVersion    int64 // highest migration applied to the database
	KnownVersion int64 // highest migration this binary embeds
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("store: database schema version %d is newer than this binary knows (%d); upgrade sa01-secrets before using this store",
		e.DBVersion, e.KnownVersion)
}

// Unwrap makes errors.Is(err, ErrSchemaTooNew) hold.
func (e *SchemaError) Unwrap() error { return ErrSchemaTooNew }

// CheckSchema returns a *SchemaError when db is ahead of known.
func CheckSchema(db, known int64) error {
	if db > known {
		return &SchemaError{DBVersion: db, KnownVersion: known}
	}
	return nil
}
