package fernet

import (
	"crypto/hmac"
	"encoding/binary"
)

// hmacKeys are the SHA-256 states after the inner and the outer pad block
// of HMAC-SHA256 under a signing key. With them a token's MAC costs the
// block function alone: the message's blocks, its last padded block or
// two, and one outer block (three calls for a 32-byte secret), with none of
// the copying and state restoring of crypto/hmac.
type hmacKeys struct{ inner, outer [8]uint32 }

var sha256Init = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// newHMACKeys absorbs the pads of key (at most 64 bytes). Where the SHA
// extensions cannot run it returns nil and MACs use crypto/hmac.
func newHMACKeys(key []byte) *hmacKeys {
	if !hasSHANI {
		return nil
	}
	hk := &hmacKeys{inner: sha256Init, outer: sha256Init}
	var pad [64]byte
	for _, p := range []struct {
		h *[8]uint32
		x byte
	}{{&hk.inner, 0x36}, {&hk.outer, 0x5c}} {
		clear(pad[:])
		copy(pad[:], key)
		for i := range pad {
			pad[i] ^= p.x
		}
		sha256BlockSHANI(p.h, pad[:])
	}
	clear(pad[:])
	return hk
}

// sum writes HMAC-SHA256(msg) to out, using buf as scratch.
func (hk *hmacKeys) sum(out *[hmacSize]byte, msg []byte, buf *[128]byte) {
	h := hk.inner
	full := len(msg) &^ 63
	if full > 0 {
		sha256BlockSHANI(&h, msg[:full])
	}
	// The last blocks: what is left of msg, 0x80, zeros, and the length in
	// bits of everything hashed, the pad block included.
	n := copy(buf[:], msg[full:])
	buf[n] = 0x80
	end := 64
	if n+1+8 > 64 {
		end = 128
	}
	clear(buf[n+1 : end-8])
	binary.BigEndian.PutUint64(buf[end-8:end], uint64(64+len(msg))*8)
	sha256BlockSHANI(&h, buf[:end])
	// The outer hash: the pad block, then the inner digest in one block.
	for i, v := range h {
		binary.BigEndian.PutUint32(buf[4*i:], v)
	}
	buf[32] = 0x80
	clear(buf[33:56])
	binary.BigEndian.PutUint64(buf[56:64], (64+hmacSize)*8)
	h = hk.outer
	sha256BlockSHANI(&h, buf[:64])
	for i, v := range h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
}

// sign writes the MAC of msg to out (hmacSize bytes).
func (op *opState) sign(out, msg []byte) {
	if op.hk != nil {
		op.hk.sum((*[hmacSize]byte)(out), msg, &op.hbuf)
		return
	}
	op.mac.Reset()
	op.mac.Write(msg)
	op.mac.Sum(out[:0])
}

// verify checks the MAC of a decoded token in constant time.
func (op *opState) verify(raw []byte) bool {
	n := len(raw) - hmacSize
	op.sign(op.sum[:], raw[:n])
	return hmac.Equal(op.sum[:], raw[n:])
}
