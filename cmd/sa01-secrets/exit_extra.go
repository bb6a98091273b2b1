package main

import (
	"errors"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// extraExitCode maps the sentinels of the domain packages to exit codes.
func extraExitCode(err error) int {
	switch {
	case errors.Is(err, fernet.ErrDuplicateKey):
		return ExitUsage
	}
	return 0
}

// extraHint gives a hint for well-known errors.
func extraHint(err error) string {
	switch {
	case errors.Is(err, fernet.ErrInvalidToken):
		return "the data needs a key that is not loaded; check SA01_CRYPTO_FERNET_KEY and SA01_CRYPTO_FERNET_PREVIOUS_KEYS"
	}
	return ""
}
