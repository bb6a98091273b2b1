package fernet

import (
	"errors"
	"time"
)

// Ring is an ordered set of keys, like Python's MultiFernet: it encrypts
// with the first key (the primary) and decrypts with any key, in order.
type Ring struct {
	keys []*Key
}

// ErrDuplicateKey is returned by NewRing when a key appears twice.
var ErrDuplicateKey = errors.New("fernet: duplicate key in ring")

// NewRing returns a ring whose primary is keys[0]. It needs at least one key
// and refuses duplicates.
func NewRing(keys ...*Key) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("fernet: a ring needs at least one key")
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.ID()] {
			return nil, ErrDuplicateKey
		}
		seen[k.ID()] = true
	}
	return &Ring{keys: append([]*Key(nil), keys...)}, nil
}

// Primary returns the key the ring encrypts with.
func (r *Ring) Primary() *Key { return r.keys[0] }

// Keys returns the keys in order, primary first.
func (r *Ring) Keys() []*Key { return append([]*Key(nil), r.keys...) }

// Key returns the key with the given ID, or nil.
func (r *Ring) Key(id string) *Key {
	for _, k := range r.keys {
		if k.ID() == id {
			return k
		}
	}
	return nil
}

// Encrypt encrypts msg with the primary key.
func (r *Ring) Encrypt(msg []byte) []byte { return r.keys[0].Encrypt(msg) }

// Decrypt tries every key in order, with no time checks.
func (r *Ring) Decrypt(tok []byte) ([]byte, error) {
	msg, _, err := r.DecryptWithKey(tok)
	return msg, err
}

// DecryptWithKey is Decrypt that also returns the key that decrypted tok.
func (r *Ring) DecryptWithKey(tok []byte) ([]byte, *Key, error) {
	for _, k := range r.keys {
		if msg, err := k.Decrypt(tok); err == nil {
			return msg, k, nil
		}
	}
	return nil, nil, ErrInvalidToken
}

// DecryptAt tries every key in order with the TTL rules of [Key.DecryptAt].
func (r *Ring) DecryptAt(tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	for _, k := range r.keys {
		if msg, err := k.DecryptAt(tok, ttl, now); err == nil {
			return msg, nil
		}
	}
	return nil, ErrInvalidToken
}

// Rotate re-encrypts tok under the primary key, keeping its original
// timestamp, as MultiFernet.rotate does. It fails with ErrInvalidToken when
// no key in the ring decrypts tok.
func (r *Ring) Rotate(tok []byte) ([]byte, error) {
	for _, k := range r.keys {
		ts, err := k.ExtractTimestamp(tok)
		if err != nil {
			continue
		}
		msg, err := k.Decrypt(tok)
		if err != nil {
			return nil, err
		}
		return r.keys[0].EncryptAt(msg, ts), nil
	}
	return nil, ErrInvalidToken
}
