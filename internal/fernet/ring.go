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

// IDs returns the keys' IDs in order, primary first.
func (r *Ring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID()
	}
	return ids
}

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
// does; the MAC is checked before the time rules. A key whose MAC matches
// but whose decryption fails (possible only for keys sharing a signing
// half) passes to the next key. A token that fits the scratch of the first
// key's opState is decoded there and left intact by each attempt; a larger
// one is decoded into new memory, decrypted in place, and decoded again
// after a failed attempt.
func (r *Ring) openRaw(tok []byte, ttl time.Duration, now time.Time) ([]byte, uint64, *Key, error) {
	t := trimSpace(tok)
	if !plausible(t) {
		return nil, 0, nil, ErrInvalidToken
	}
	s0 := r.keys[0].s
	op0 := s0.getOp()
	defer s0.putOp(op0)
	size := len(t) / 4 * 3
	inPlace := size > scratchSize
	decode := func() ([]byte, bool) {
		if inPlace {
			return decodeTokenInto(make([]byte, size), t)
		}
		return decodeTokenInto(op0.scratch[:size], t)
	}
	raw, ok := decode()
	if !ok {
		return nil, 0, nil, ErrInvalidToken
	}
	ts := timestamp(raw)
	for i, k := range r.keys {
		op := op0
		if i > 0 {
			op = k.s.getOp()
		}
		msg, res := op.attempt(k.s, raw, inPlace, ts, ttl, now)
		if i > 0 {
			k.s.putOp(op)
		}
		switch res {
		case opened:
			return msg, ts, k, nil
		case untimely:
			return nil, 0, nil, ErrInvalidToken
		case unpadded:
			if inPlace {
				if raw, ok = decode(); !ok {
					return nil, 0, nil, ErrInvalidToken
				}
			}
		}
	}
	return nil, 0, nil, ErrInvalidToken
}

// An attemptResult is how one key of a ring fared with a token.
type attemptResult int

const (
	opened   attemptResult = iota
	wrongMAC               // not this key
	untimely               // this key, but expired or from the future
	unpadded               // this key's MAC, but not its encryption
)

func (op *opState) attempt(s *keyState, raw []byte, inPlace bool, ts uint64, ttl time.Duration, now time.Time) ([]byte, attemptResult) {
	if !op.verify(s, raw) {
		return nil, wrongMAC
	}
	if !timely(ts, ttl, now) {
		return nil, untimely
	}
	var msg []byte
	var ok bool
	if inPlace {
		msg, ok = op.openInPlace(s, raw)
	} else {
		msg, ok = op.openTo(s, nil, raw)
	}
	if !ok {
		return nil, unpadded
	}
	return msg, opened
}

// Inspect reports whether tok has the structure of a Fernet token
// (canonical URL-safe base64, the version byte, whole AES blocks and a MAC)
// and returns the time written in it. Neither is authenticated: only a key
// can say whether the token is genuine.
func Inspect(tok []byte) (time.Time, bool) {
	tok = trimSpace(tok)
	if !plausible(tok) || len(tok) > 1<<20 {
		return time.Time{}, false
	}
	var buf [512]byte
	var b []byte
	if n := len(tok) / 4 * 3; n <= len(buf) {
		b = buf[:n]
	} else {
		b = make([]byte, n)
	}
	raw, ok := decodeTokenInto(b, tok)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(timestamp(raw)), 0).UTC(), true
}
