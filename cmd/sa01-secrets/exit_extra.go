package main

import (
	"errors"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"

	"github.com/somaagent01/sa01-secrets/internal/backup"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// extraExitCode maps the sentinels of the domain packages to exit codes.
func extraExitCode(err error) int {
	var bf *backup.FormatError
	var bv *backup.VersionError
	switch {
	case errors.Is(err, secrets.ErrStateTampered):
		return ExitTampered
	case errors.As(err, &bf):
		return ExitCheckFailed
	case errors.As(err, &bv):
		return ExitUnavailable
	case errors.Is(err, store.ErrNotEmpty):
		return ExitConflict
	case errors.Is(err, backup.ErrNoKeys):
		return ExitUsage
	case errors.Is(err, fernet.ErrDuplicateKey):
		return ExitUsage
	case errors.Is(err, secrets.ErrKeyNotExpected):
		return ExitInvalidToken
	case errors.Is(err, secrets.ErrInvalid), errors.Is(err, secrets.ErrNoKeys):
		return ExitUsage
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDeleted), errors.Is(err, store.ErrDestroyed):
		return ExitNotFound
	case errors.Is(err, store.ErrConflict):
		return ExitConflict
	case errors.Is(err, store.ErrCompromised), errors.Is(err, policy.ErrDenied):
		return ExitDenied
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrNotWritable), errors.Is(err, store.ErrSchemaTooNew):
		return ExitUnavailable
	}
	return 0
}

// extraHint gives a hint for well-known errors.
func extraHint(err error) string {
	var kn *secrets.KeyNotLoadedError
	var ie *secrets.IntegrityError
	var ke *secrets.KeyNotExpectedError
	switch {
	case errors.As(err, &ke):
		return keyNotExpectedHint(ke)
	case errors.Is(err, secrets.ErrStateTampered):
		return "the secret's row was changed in the database, not by sa01-secrets: run 'sa01-secrets verify', check the audit trail, and restore the row from a backup"
	case errors.Is(err, store.ErrNotEmpty):
		return "restore and migrate fill an empty store only: point SA01_SECRETS_DB_DSN (or the destination) at a new SQLite file or an empty database"
	case errors.As(err, &kn):
		return "add the key with ID " + kn.KeyID + " to SA01_CRYPTO_FERNET_PREVIOUS_KEYS"
	case errors.As(err, &ie):
		return "the stored row was altered or moved; restore it from a backup, or destroy the version and put a new one"
	case errors.Is(err, fernet.ErrInvalidToken):
		return "the data needs a key that is not loaded; check SA01_CRYPTO_FERNET_KEY and SA01_CRYPTO_FERNET_PREVIOUS_KEYS"
	case errors.Is(err, secrets.ErrNoKeys):
		return noKeyHint
	case errors.Is(err, store.ErrDeleted):
		return "restore it with 'sa01-secrets undelete NAME'"
	case errors.Is(err, store.ErrConflict):
		return "see the current version with 'sa01-secrets history NAME' and retry with --cas set to it"
	case errors.Is(err, store.ErrCompromised):
		return "this version is marked compromised and is never served; put a new value"
	}
	return ""
}

// keyNotExpectedHint says which keys to load instead of a key the store
// does not expect, and how a new key enters a store.
func keyNotExpectedHint(ke *secrets.KeyNotExpectedError) string {
	load := "load the store's key as " + config.EnvFernetKey
	if len(ke.Expected) > 0 {
		load = "load key " + strings.Join(ke.Expected, " or ") + " as " + config.EnvFernetKey + " (see 'sa01-secrets key list')"
	}
	return load + "; a new key enters a store through 'sa01-secrets key rotate', or 'key stage' and 'key promote'"
}
