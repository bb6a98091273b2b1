package secrets

import (
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

// Kinds of generated values.
const (
	GenerateKey      = "key"      // a new Fernet key
	GenerateToken    = "token"    // a URL-safe random token
	GeneratePassword = "password" // the same, for a database password
)

// GeneratedKind is the kind of value a secret of class gets when it is
// rotated or replaced without a value given: encryption keys a new Fernet
// key, internal tokens a random token, other classes "" (the value must
// come from elsewhere, such as a provider's console).
func GeneratedKind(class string) string {
	switch class {
	case store.ClassEncryptionKey:
		return GenerateKey
	case store.ClassInternalToken:
		return GenerateToken
	}
	return ""
}

// Generate makes a new random value of kind; tokens and passwords carry n
// bytes of entropy (token.MinRandomBytes to token.MaxRandomBytes).
func Generate(kind string, n int) (sensitive.String, error) {
	switch kind {
	case GenerateKey:
		return sensitive.New(fernet.GenerateKey().Encode()), nil
	case GenerateToken, GeneratePassword:
		if n < token.MinRandomBytes || n > token.MaxRandomBytes {
			return sensitive.String{}, invalid("--bytes: %d is out of range %d to %d", n, token.MinRandomBytes, token.MaxRandomBytes)
		}
		return sensitive.New(token.Random(n)), nil
	}
	return sensitive.String{}, invalid("%s", fmt.Sprintf("unknown kind of generated value %q", kind))
}
