package secrets_test

import (
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// TestKeyErrorHints: a key error's hint names the keys to load and the
// variable to load them as.
func TestKeyErrorHints(t *testing.T) {
	for _, c := range []struct {
		hint string
		want []string
	}{
		{(&secrets.KeyNotExpectedError{KeyID: "new1", Expected: []string{"k1", "k2"}}).Hint(), []string{"load key k1 or k2 as SA01_CRYPTO_FERNET_KEY", "key rotate"}},
		{(&secrets.KeyNotExpectedError{KeyID: "new1"}).Hint(), []string{"load the store's key as SA01_CRYPTO_FERNET_KEY", "key stage"}},
		{(&secrets.KeyNotLoadedError{Name: "a", Version: 1, KeyID: "old9"}).Hint(), []string{"add the key with ID old9 to SA01_CRYPTO_FERNET_PREVIOUS_KEYS"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.hint, w) {
				t.Errorf("hint %q lacks %q", c.hint, w)
			}
		}
	}
}
