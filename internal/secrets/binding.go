package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// BindingLabel names the subkey that row bindings are made with.
const BindingLabel = "row-binding/v1"

// Bind returns the row binding of a stored version: HMAC-SHA256 under
// key.Subkey("row-binding/v1") of the key that made token, over
//
//	len(name) | name | len(version) | version | len(keyID) | keyID | len(token) | token
//
// where every len is a 4-byte big-endian byte count and version is 8 bytes,
// big-endian. It detects a token (with its binding) copied to another secret
// or version, and a token or key ID altered in place.
func Bind(key *fernet.Key, name string, version int, keyID, token string) []byte {
	return bindWith(key.Subkey(BindingLabel), name, version, keyID, token)
}

// bindWith is Bind under the binding subkey sub of a key.
func bindWith(sub [32]byte, name string, version int, keyID, token string) []byte {
	m := hmac.New(sha256.New, sub[:])
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(b)))
		m.Write(n[:4])
		m.Write(b)
	}
	field([]byte(name))
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(version))
	field(v[:])
	field([]byte(keyID))
	field([]byte(token))
	return m.Sum(nil)
}

// CheckBinding reports, in constant time, whether binding is the row
// binding of (name, version, keyID, token) under key.
func CheckBinding(key *fernet.Key, name string, version int, keyID, token string, binding []byte) bool {
	return hmac.Equal(Bind(key, name, version, keyID, token), binding)
}
