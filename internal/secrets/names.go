package secrets

import (
	"fmt"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Limits.
const (
	// MaxNameLen is the longest secret name, in bytes.
	MaxNameLen = 256
	// MaxValueSize is the largest value, in bytes.
	MaxValueSize = 64 << 10
)

// ValidateName checks a secret name: 1 to 256 bytes of path segments
// separated by '/', each of letters, digits, '_', '.' and '-', not starting
// with '-' or '.', with no empty segment. The error describes the problem
// and never repeats the name, which may be a value pasted by mistake.
func ValidateName(name string) error {
	if name == "" {
		return invalid("secret name: empty")
	}
	if len(name) > MaxNameLen {
		return invalid("secret name: %d bytes; at most %d", len(name), MaxNameLen)
	}
	for i, seg := range strings.Split(name, "/") {
		if seg == "" {
			return invalid("secret name: empty path segment %d (leading, trailing or doubled '/')", i+1)
		}
		if seg[0] == '.' || seg[0] == '-' {
			return invalid("secret name: path segment %d starts with %q", i+1, seg[0])
		}
		for j := 0; j < len(seg); j++ {
			if !nameChar(seg[j]) {
				return invalid("secret name: path segment %d has a character outside A-Z a-z 0-9 _ . - at byte %d", i+1, j+1)
			}
		}
	}
	return nil
}

// ValidatePrefix checks a name prefix for list and export: empty, or a
// valid name, optionally ending in '/'.
func ValidatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if err := ValidateName(strings.TrimSuffix(p, "/")); err != nil {
		return invalid("--prefix: %s", strings.TrimPrefix(err.Error(), "invalid input: secret name: "))
	}
	return nil
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidEnvName reports whether s is a portable environment variable name
// (dotenv.ValidName: letters, digits and '_', not starting with a digit).
func ValidEnvName(s string) bool { return dotenv.ValidName(s) }

// ValidClass reports whether c is a known class.
func ValidClass(c string) bool {
	for _, k := range store.Classes {
		if c == k {
			return true
		}
	}
	return false
}

// DefaultRotation returns the policy's rotation period for a class:
// encryption keys 90 days, internal tokens 180 days, others none (API keys
// rotate as their provider requires: set a period explicitly).
func DefaultRotation(class string) time.Duration {
	switch class {
	case store.ClassEncryptionKey:
		return 90 * 24 * time.Hour
	case store.ClassInternalToken:
		return 180 * 24 * time.Hour
	}
	return 0
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}
