package fernet

import (
	"errors"
	"time"
)

// Ring is an ordered set of keys, like Python's MultiFernet: it encrypts
// with the first key (the primary) and decrypts with any key, in order. A
// Ring is immutable and safe for concurrent use.
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
	for i, k := range keys {
		if k == nil || k.s == nil {
			return nil, errors.New("fernet: nil key in ring")
		}
		for _, o := range keys[:i] {
			if k.Equal(o) {
				return nil, ErrDuplicateKey
			}
		}
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
	msg, _, err := r.open(tok, NoTTL, time.Time{})
	return msg, err
}

// DecryptWithKey is Decrypt that also returns the key that decrypted tok.
func (r *Ring) DecryptWithKey(tok []byte) ([]byte, *Key, error) {
	return r.open(tok, NoTTL, time.Time{})
}

// DecryptTTL tries every key in order with the TTL rules of [Key.DecryptTTL].
func (r *Ring) DecryptTTL(tok []byte, ttl time.Duration) ([]byte, error) {
	msg, _, err := r.open(tok, ttl, time.Now())
	return msg, err
}

// DecryptAt tries every key in order with the TTL rules of [Key.DecryptAt].
func (r *Ring) DecryptAt(tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	msg, _, err := r.open(tok, ttl, now)
	return msg, err
}

// ExtractTimestamp returns the time tok was made, after checking its MAC
// against every key in order.
func (r *Ring) ExtractTimestamp(tok []byte) (time.Time, error) {
	raw, ok := decodeToken(tok)
	if !ok {
		return time.Time{}, ErrInvalidToken
	}
	for _, k := range r.keys {
		if k.verify(raw) {
			return time.Unix(int64(timestamp(raw)), 0).UTC(), nil
		}
	}
	return time.Time{}, ErrInvalidToken
}

// Rotate re-encrypts tok under the primary key, keeping its original
// timestamp, as MultiFernet.rotate does: no time checks, a fresh IV. It
// fails with ErrInvalidToken when no key in the ring decrypts tok.
func (r *Ring) Rotate(tok []byte) ([]byte, error) {
	msg, ts, _, err := r.openRaw(tok, NoTTL, time.Time{})
	if err != nil {
		return nil, err
	}
	out := r.keys[0].seal(nil, msg, nil, ts)
	clear(msg)
	return out, nil
}

func (r *Ring) open(tok []byte, ttl time.Duration, now time.Time) ([]byte, *Key, error) {
	msg, _, k, err := r.openRaw(tok, ttl, now)
	return msg, k, err
}

// openRaw decodes tok once and tries each key in order, as MultiFernet
// does; the MAC is checked before the time rules. A key whose MAC matches but whose decryption fails (possible only
// for keys sharing a signing half) passes to the next key.
func (r *Ring) openRaw(tok []byte, ttl time.Duration, now time.Time) ([]byte, uint64, *Key, error) {
	raw, ok := decodeToken(tok)
	if !ok {
		return nil, 0, nil, ErrInvalidToken
	}
	ts := timestamp(raw)
	dirty := false
	for _, k := range r.keys {
		if dirty {
			// The previous attempt decrypted in place; start again.
			if raw, ok = decodeToken(tok); !ok {
				return nil, 0, nil, ErrInvalidToken
			}
			dirty = false
		}
		op := k.s.getOp()
		if !op.verify(raw) {
			k.s.putOp(op)
			continue
		}
		if !timely(ts, ttl, now) {
			k.s.putOp(op)
			return nil, 0, nil, ErrInvalidToken
		}
		msg, err := op.open(k.s, raw)
		k.s.putOp(op)
		if err == nil {
			return msg, ts, k, nil
		}
		dirty = true
	}
	return nil, 0, nil, ErrInvalidToken
}
