package rotate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// BindingLabel is the subkey label of row bindings (secrets.BindingLabel).
const BindingLabel = "row-binding/v1"

// NewCachedBinder returns a Binder that computes exactly what
// secrets.Bind computes (a test holds them equal), keeping each key's
// HMAC state so the subkey is derived once per key rather than once per
// row. It is not safe for concurrent use: the engine makes one per worker.
func NewCachedBinder() Binder {
	macs := map[string]hash.Hash{}
	var n [8]byte
	return func(key *fernet.Key, name string, version int, keyID, token string) []byte {
		m, ok := macs[key.ID()]
		if !ok {
			sub := key.Subkey(BindingLabel)
			m = hmac.New(sha256.New, sub[:])
			macs[key.ID()] = m
		}
		m.Reset()
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
		return m.Sum(nil)
	}
}

// tokenTime reads the timestamp of a token that has already been
// authenticated (decrypted): the 8 bytes after the version byte.
func tokenTime(tok []byte) (time.Time, bool) {
	if len(tok) < 16 {
		return time.Time{}, false
	}
	var head [12]byte
	if _, err := base64.URLEncoding.Decode(head[:], tok[:16]); err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(head[1:9])), 0), true
}
