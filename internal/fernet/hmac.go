package fernet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"hash"
)

// hmacPads are the SHA-256 states, marshalled, after the inner and the
// outer pad block of HMAC-SHA256 under a signing key: what crypto/hmac
// keeps after its first Reset. A key computes them once; each MAC restores
// them into its opState's two hashes instead of hashing the pads again.
type hmacPads struct{ inner, outer []byte }

// stateHash is a hash whose state can be restored, as crypto/sha256's.
type stateHash interface {
	hash.Hash
	encoding.BinaryUnmarshaler
}

func newStateHash() stateHash {
	h, ok := sha256.New().(stateHash)
	if !ok {
		panic("fernet: crypto/sha256 cannot restore a state") // it can since Go 1.9
	}
	return h
}

// newHMACPads absorbs the pads of key (at most a block, 64 bytes).
func newHMACPads(key []byte) hmacPads {
	var pad [sha256.BlockSize]byte
	state := func(x byte) []byte {
		clear(pad[:])
		copy(pad[:], key)
		for i := range pad {
			pad[i] ^= x
		}
		h := sha256.New()
		h.Write(pad[:])
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("fernet: " + err.Error()) // crypto/sha256 marshals its state
		}
		return st
	}
	p := hmacPads{inner: state(0x36), outer: state(0x5c)}
	clear(pad[:])
	return p
}

// sign writes HMAC-SHA256(msg) under the key of s to out, as crypto/hmac
// computes it: the inner hash from the inner pad's state, then the outer
// from the outer pad's state over the inner digest.
func (op *opState) sign(s *keyState, out *[hmacSize]byte, msg []byte) {
	if err := op.inner.UnmarshalBinary(s.pads.inner); err != nil {
		panic("fernet: " + err.Error()) // a state crypto/sha256 marshalled
	}
	op.inner.Write(msg)
	op.inner.Sum(out[:0])
	if err := op.outer.UnmarshalBinary(s.pads.outer); err != nil {
		panic("fernet: " + err.Error())
	}
	op.outer.Write(out[:])
	op.outer.Sum(out[:0])
}

// verify checks the MAC of a decoded token in constant time.
func (op *opState) verify(s *keyState, raw []byte) bool {
	n := len(raw) - hmacSize
	op.sign(s, &op.sum, raw[:n])
	return hmac.Equal(op.sum[:], raw[n:])
}
