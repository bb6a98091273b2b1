package secrets

import (
	"errors"
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

var (
	// ErrInvalid is wrapped by every error about bad input: a bad name, an
	// empty or oversized value, an unknown class. Nothing was changed.
	ErrInvalid = errors.New("invalid input")
	// ErrNoKeys is returned when an operation needs a Fernet key and none
	// is loaded.
	ErrNoKeys = errors.New("no Fernet key loaded")
)

// ErrKeyNotExpected is matched by *KeyNotExpectedError.
var ErrKeyNotExpected = errors.New("the loaded key is not one the store expects")

// KeyNotExpectedError refuses a write under a primary key that is not the
// store's active or a retained (decrypt-only) key: a freshly generated
// one, or one the store records as pending, retired or compromised.
// Nothing was written.
type KeyNotExpectedError struct {
	KeyID    string   // the loaded primary key
	State    string   // its state in the store; "" when the store has never seen it
	Expected []string // the store's active and decrypt-only keys
}

func (e *KeyNotExpectedError) Error() string {
	what := "is not known to the store"
	if e.State != "" {
		what = "is " + e.State + " in the store"
	}
	exp := "none"
	if len(e.Expected) > 0 {
		exp = strings.Join(e.Expected, ", ")
	}
	return fmt.Sprintf("writes refused: the loaded key %s %s; the store expects key %s", e.KeyID, what, exp)
}

// Unwrap makes errors.Is(err, ErrKeyNotExpected) hold.
func (e *KeyNotExpectedError) Unwrap() error { return ErrKeyNotExpected }

// Hint says which key to load, and how a new key enters a store.
func (e *KeyNotExpectedError) Hint() string {
	if len(e.Expected) > 0 {
		return "load key " + strings.Join(e.Expected, " or ") + " as " + config.EnvFernetKey + " (see 'sa01-secrets key list')" + keyEntersHint
	}
	return "load the store's key as " + config.EnvFernetKey + keyEntersHint
}

const keyEntersHint = "; a new key enters a store through 'sa01-secrets key rotate', or 'key stage' and 'key promote'"

// KeyNotLoadedError reports a version encrypted under a key that is not in
// the ring. It matches fernet.ErrInvalidToken.
type KeyNotLoadedError struct {
	Name    string
	Version int
	KeyID   string   // the key the data needs
	Loaded  []string // the keys that are loaded
}

func (e *KeyNotLoadedError) Error() string {
	return fmt.Sprintf("secret %s version %d is encrypted under key %s, which is not loaded (loaded: %s)",
		e.Name, e.Version, e.KeyID, strings.Join(e.Loaded, ", "))
}

// Unwrap makes errors.Is(err, fernet.ErrInvalidToken) hold.
func (e *KeyNotLoadedError) Unwrap() error { return fernet.ErrInvalidToken }

// Hint says which key to add.
func (e *KeyNotLoadedError) Hint() string {
	return "add the key with ID " + e.KeyID + " to " + config.EnvFernetPreviousKeys
}

// IntegrityError reports a stored version that fails its checks: a token
// that does not decrypt (corrupted) or a row binding that does not hold (a
// token moved from another secret or version). It matches
// fernet.ErrInvalidToken.
type IntegrityError struct {
	Name    string
	Version int
	Reason  string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("secret %s version %d: %s", e.Name, e.Version, e.Reason)
}

// Unwrap makes errors.Is(err, fernet.ErrInvalidToken) hold.
func (e *IntegrityError) Unwrap() error { return fernet.ErrInvalidToken }

// Reasons of integrity failures.
const (
	ReasonBinding   = "row binding does not hold: the token was moved from another secret or version, or altered"
	ReasonCorrupted = "token does not decrypt under the key it names: corrupted"
	ReasonMalformed = "token is not a well-formed Fernet token"
)
