package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"

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
	writeBinding(m, name, version, keyID, token)
	return m.Sum(nil)
}

// writeBinding writes the fields of a row binding to m: the one encoding
// of Bind and NewBinder.
func writeBinding(m hash.Hash, name string, version int, keyID, token string) {
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
		m.Write(n[:4])
		m.Write([]byte(s))
	}
	field(name)
	binary.BigEndian.PutUint32(n[:4], 8)
	m.Write(n[:4])
	binary.BigEndian.PutUint64(n[:], uint64(version))
	m.Write(n[:])
	field(keyID)
	field(token)
}

// NewBinder returns a function that computes exactly what Bind computes,
// keeping each key's HMAC state so the subkey is derived once per key
// rather than once per row (re-encryption binds every row it moves). It is
// not safe for concurrent use: make one per goroutine.
func NewBinder() func(key *fernet.Key, name string, version int, keyID, token string) []byte {
	macs := map[string]hash.Hash{}
	return func(key *fernet.Key, name string, version int, keyID, token string) []byte {
		m, ok := macs[key.ID()]
		if !ok {
			sub := key.Subkey(BindingLabel)
			m = hmac.New(sha256.New, sub[:])
			macs[key.ID()] = m
		}
		m.Reset()
		writeBinding(m, name, version, keyID, token)
		return m.Sum(nil)
	}
}

// CheckBinding reports, in constant time, whether binding is the row
// binding of (name, version, keyID, token) under key.
func CheckBinding(key *fernet.Key, name string, version int, keyID, token string, binding []byte) bool {
	return hmac.Equal(Bind(key, name, version, keyID, token), binding)
}
