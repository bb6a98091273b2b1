package config

import (
	"errors"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// ErrVarUnset is returned by KeyVar for a variable that is unset or blank.
var ErrVarUnset = errors.New("the variable is not set")

// KeyVar reads one Fernet key from the environment variable name, a name
// the user gave (reencrypt --old-key-env): ErrVarUnset when it is unset or
// blank; a malformed key is an *Error naming the variable, never the value.
func KeyVar(getenv func(string) string, name string) (*fernet.Key, error) {
	v := getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, ErrVarUnset
	}
	return ParseKeyVar(name, v)
}
