package token

import (
	"crypto/rand"
	"encoding/base64"
)

// Bounds of Random's entropy, in bytes.
const (
	MinRandomBytes = 16
	MaxRandomBytes = 1024
)

// Random returns n bytes from crypto/rand as unpadded URL-safe base64, as
// Python's secrets.token_urlsafe(n). It is the one generator of random
// tokens: generated secrets, identities' credentials, console sessions
// and the service tokens Issue makes.
func Random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
