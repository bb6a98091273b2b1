// Package fernet implements the Fernet symmetric token format exactly as
// Python's cryptography package does, plus a key ring with rotation
// (MultiFernet) and one-way key IDs.
//
// A token is, before URL-safe base64 with padding:
//
//	0x80 | timestamp (uint64 big-endian seconds) | IV (16) | AES-128-CBC ciphertext (PKCS#7) | HMAC-SHA256 (32)
//
// A key is 32 bytes in URL-safe base64 with padding: the first 16 bytes sign,
// the last 16 encrypt. Every failure to decrypt is the one opaque
// [ErrInvalidToken]: a bad MAC, bad padding, an expired TTL and a wrong key
// look the same to the caller.
//
// Keys are safe for concurrent use by many goroutines. The package is built
// on the standard library's crypto/aes, crypto/cipher, crypto/sha256 (with
// HMAC as crypto/hmac computes it), encoding/base64 and time; it has no
// assembly and no build tags of its own.
package fernet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"
)

// Version is the first byte of every token.
const Version byte = 0x80

// MaxClockSkew is how far in the future a token's timestamp may lie when a
// TTL is checked, as in Python's cryptography (_MAX_CLOCK_SKEW).
const MaxClockSkew = 60 * time.Second

// NoTTL passed as a TTL turns off every time check.
const NoTTL time.Duration = -1

const (
	keySize      = 32
	ivSize       = aes.BlockSize
	hmacSize     = sha256.Size
	headerSize   = 1 + 8 + ivSize
	minTokenSize = headerSize + aes.BlockSize + hmacSize
	keyIDLabel   = "sa01-secrets/key-id/v1"
	subkeyPrefix = "sa01-secrets/subkey/v1/"
)

// ErrInvalidToken is returned for every token that does not decrypt: wrong
// key, bad MAC, bad padding, malformed encoding, expired or from the future.
var ErrInvalidToken = errors.New("fernet: invalid token")

var (
	b64    = base64.URLEncoding
	strict = base64.URLEncoding.Strict()
)

// Key is a Fernet key. It never prints itself: under every fmt verb and in
// log/slog it shows only its key ID. The zero Key is not valid; make one with
// [GenerateKey] or [ParseKey].
type Key struct {
	_ [0]func() // incomparable: compare with Equal
	s *keyState // behind a pointer: reflection-based printers show an address
}

type keyState struct {
	sign [16]byte
	enc  [16]byte
	blk  cipher.Block
	pads hmacPads // of sign
	id   string
	ops  sync.Pool // of *opState
}

// opState is the per-operation state of a key: the two SHA-256 states of
// an HMAC, CBC modes whose IV is set per token, and a buffer tokens are
// assembled and decoded in. A key hands one to each concurrent operation
// through a sync.Pool, so a key is safe for concurrent use and an operation
// allocates nothing but its result.
type opState struct {
	inner, outer stateHash // SHA-256, restored from the key's pads per MAC
	enc          cipher.BlockMode
	dec          cipher.BlockMode
	sum          [hmacSize]byte
	// last receives the last block of a plaintext while its padding is
	// checked (in the opState: a local would escape to the heap through
	// the cipher.Block interface).
	last [aes.BlockSize]byte
	// scratch holds raw tokens of up to scratchSize bytes: encryption
	// assembles them there and encodes them into the result, decryption
	// decodes them there. It holds only tokens (ciphertext and MAC), never
	// plaintext once an operation returns, and stays warm in the cache, so
	// an operation writes fresh memory only for its result. Larger tokens
	// pass through it in pieces (see encodeThrough).
	scratch [scratchSize]byte
}

// scratchSize bounds the raw tokens an opState holds whole: 4 KiB holds
// every token of a plaintext up to about 4,000 bytes. Larger tokens are
// assembled and decoded in the memory of the result. It is a multiple of 3,
// so that base64 encodes it in whole groups.
const scratchSize = 4095

type ivSetter interface{ SetIV([]byte) }

// GenerateKey returns a new random key.
func GenerateKey() *Key {
	var raw [keySize]byte
	_, _ = rand.Read(raw[:]) // never fails since Go 1.24
	k := newKey(raw[:])
	clear(raw[:])
	return k
}

// KeyError describes why a key could not be parsed. It never holds the key.
type KeyError struct{ Reason string }

func (e *KeyError) Error() string { return "fernet: invalid key: " + e.Reason }

// ParseKey parses a key in the form Python's Fernet(key) takes: 32 bytes in
// URL-safe base64 with padding (44 characters). Surrounding whitespace is
// ignored. The error says what is wrong and never echoes the input.
//
// ParseKey is stricter than Python: it refuses the standard alphabet ('+',
// '/'), characters outside the alphabet anywhere, and a final character
// whose unused low bits are not zero (a non-canonical encoding).
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, &KeyError{Reason: "empty"}
	case strings.ContainsAny(s, "+/"):
		return nil, &KeyError{Reason: "standard base64 alphabet ('+' or '/'); want URL-safe base64 ('-' and '_')"}
	case len(s) == 43 && !strings.HasSuffix(s, "="):
		return nil, &KeyError{Reason: "missing '=' padding; want 44 characters of URL-safe base64"}
	case len(s) != 44:
		return nil, &KeyError{Reason: "wrong length; want 44 characters of URL-safe base64 encoding 32 bytes"}
	}
	var raw [keySize + 1]byte
	n, err := strict.Decode(raw[:], []byte(s))
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, &KeyError{Reason: "not URL-safe base64"}
	}
	if n != keySize {
		return nil, &KeyError{Reason: "wrong length; want 32 bytes"}
	}
	k := newKey(raw[:keySize])
	clear(raw[:])
	return k, nil
}

func newKey(raw []byte) *Key {
	s := &keyState{}
	copy(s.sign[:], raw[:16])
	copy(s.enc[:], raw[16:])
	blk, err := aes.NewCipher(s.enc[:])
	if err != nil {
		panic("fernet: " + err.Error()) // 16-byte key: cannot happen
	}
	s.blk = blk
	s.pads = newHMACPads(s.sign[:])
	m := hmac.New(sha256.New, raw)
	m.Write([]byte(keyIDLabel))
	s.id = hex.EncodeToString(m.Sum(nil)[:6])
	return &Key{s: s}
}

func (s *keyState) getOp() *opState {
	if op, ok := s.ops.Get().(*opState); ok {
		return op
	}
	var zero [ivSize]byte
	return &opState{
		inner: newStateHash(),
		outer: newStateHash(),
		enc:   cipher.NewCBCEncrypter(s.blk, zero[:]),
		dec:   cipher.NewCBCDecrypter(s.blk, zero[:]),
	}
}

func (s *keyState) putOp(op *opState) { s.ops.Put(op) }

// cbcEncrypter returns the key's CBC encrypter, its IV set to iv: the
// opState's, reset (the CBC modes of crypto/cipher have SetIV), or else a
// new one. It carries the chain across calls of CryptBlocks.
func (op *opState) cbcEncrypter(s *keyState, iv []byte) cipher.BlockMode {
	if v, ok := op.enc.(ivSetter); ok {
		v.SetIV(iv)
		return op.enc
	}
	return cipher.NewCBCEncrypter(s.blk, iv)
}

// cbcDecrypt decrypts src into dst with iv; dst and src are the same
// slice or do not overlap.
func (op *opState) cbcDecrypt(s *keyState, iv, dst, src []byte) {
	if v, ok := op.dec.(ivSetter); ok {
		v.SetIV(iv)
		op.dec.CryptBlocks(dst, src)
		return
	}
	cipher.NewCBCDecrypter(s.blk, iv).CryptBlocks(dst, src)
}

// Encode returns the key in Python's form (URL-safe base64 with padding).
// It is the one way to the key material; treat its result as a secret.
func (k *Key) Encode() string {
	var raw [keySize]byte
	copy(raw[:16], k.s.sign[:])
	copy(raw[16:], k.s.enc[:])
	return b64.EncodeToString(raw[:])
}

// ID returns the key ID: 12 lowercase hex characters, the first 48 bits of
// HMAC-SHA256(key, "sa01-secrets/key-id/v1"), the key being the 32 raw
// bytes. It names the key in logs, errors and the store, is the same for a
// key forever, and reveals nothing about the key.
func (k *Key) ID() string { return k.s.id }

// Equal reports whether k and o are the same key, in constant time.
func (k *Key) Equal(o *Key) bool {
	return subtle.ConstantTimeCompare(k.s.sign[:], o.s.sign[:])&subtle.ConstantTimeCompare(k.s.enc[:], o.s.enc[:]) == 1
}

// Format implements fmt.Formatter: every verb prints only the key ID, as
// fernet.Key(<id>).
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.describe()) }

// LogValue implements slog.LogValuer: a key logs as its key ID.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.describe()) }

func (k Key) describe() string {
	if k.s == nil {
		return "fernet.Key(invalid)"
	}
	return "fernet.Key(" + k.s.id + ")"
}

// Subkey derives a 32-byte key for another purpose, named by label, as
// HMAC-SHA256(key, "sa01-secrets/subkey/v1/" + label), the key being the 32
// raw bytes. Distinct labels give independent keys; neither the Fernet key
// nor another label's subkey can be recovered from a subkey, and no subkey
// shares a derivation with the key ID.
func (k *Key) Subkey(label string) [32]byte {
	var raw [keySize]byte
	copy(raw[:16], k.s.sign[:])
	copy(raw[16:], k.s.enc[:])
	m := hmac.New(sha256.New, raw[:])
	clear(raw[:])
	m.Write([]byte(subkeyPrefix + label))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Encrypt returns a new token for msg, stamped with the current time.
func (k *Key) Encrypt(msg []byte) []byte {
	return k.seal(nil, msg, nil, unixNow())
}

// unixNow returns the wall clock in whole seconds.
func unixNow() uint64 { return uint64(time.Now().Unix()) }

// EncryptAt returns a new token for msg, stamped with now (whole seconds;
// now must not be before 1970). The IV is random: unique for all time, for a
// given key, with overwhelming probability.
func (k *Key) EncryptAt(msg []byte, now time.Time) []byte {
	return k.seal(nil, msg, nil, uint64(now.Unix()))
}

// AppendEncrypt is Encrypt that appends the token to dst and returns the
// extended slice, allocating only when dst lacks the capacity (see
// [EncodedLen]). msg must not overlap the spare capacity of dst.
func (k *Key) AppendEncrypt(dst, msg []byte) []byte {
	return k.seal(dst, msg, nil, unixNow())
}

// encryptAt is EncryptAt with a chosen IV, for the spec's vectors.
func (k *Key) encryptAt(msg, iv []byte, now time.Time) []byte {
	return k.seal(nil, msg, iv, uint64(now.Unix()))
}

// EncodedLen returns the length of the token of an n-byte message.
func EncodedLen(n int) int { return b64.EncodedLen(rawLen(n)) }

func rawLen(n int) int { return headerSize + (n/aes.BlockSize+1)*aes.BlockSize + hmacSize }

// seal appends a token to dst in at most one allocation, the result. A
// token that fits an opState's scratch is assembled there and
// base64-encoded into the result; a larger one is assembled at the tail of
// the result and encoded forwards into the same bytes through the scratch
// (see encodeThrough). The plaintext is encrypted straight from msg into
// its place. iv nil means a random IV.
func (k *Key) seal(dst, msg, iv []byte, ts uint64) []byte {
	s := k.s
	n := rawLen(len(msg))
	e := b64.EncodedLen(n)
	var ret []byte
	if dst == nil {
		ret = make([]byte, e)
	} else {
		ret = slices.Grow(dst, e)[:len(dst)+e]
	}
	out := ret[len(ret)-e:]
	op := s.getOp()
	defer s.putOp(op)
	raw := out[e-n:]
	if n <= scratchSize {
		raw = op.scratch[:n]
	}
	raw[0] = Version
	binary.BigEndian.PutUint64(raw[1:9], ts)
	if iv == nil {
		_, _ = rand.Read(raw[9:headerSize])
	} else {
		copy(raw[9:headerSize], iv)
	}
	body := raw[headerSize : n-hmacSize]
	full := len(msg) &^ (aes.BlockSize - 1)
	last := body[full:] // one block: the rest of msg, then its padding
	copy(last, msg[full:])
	p := byte(len(body) - len(msg))
	for i := len(msg) - full; i < len(last); i++ {
		last[i] = p
	}
	cbc := op.cbcEncrypter(s, raw[9:headerSize])
	cbc.CryptBlocks(body[:full], msg[:full])
	cbc.CryptBlocks(last, last)
	op.sign(s, (*[hmacSize]byte)(raw[n-hmacSize:]), raw[:n-hmacSize])
	if n <= scratchSize {
		b64.Encode(out, raw)
	} else {
		encodeThrough(out, n, &op.scratch)
	}
	return ret
}

// encodeThrough base64-encodes the last n bytes of out into out itself,
// from the start; len(out) is the encoded length of n. It copies the input
// a piece at a time into scratch and encodes the piece from there. No piece
// is overwritten before it is read: the encoding of everything up to the
// end of a piece ends at 4/3 of its length, and so before the end of the
// piece itself, n bytes from the end of out, because len(out) >= 4n/3.
func encodeThrough(out []byte, n int, scratch *[scratchSize]byte) {
	si, di := len(out)-n, 0
	for si < len(out) {
		c := copy(scratch[:], out[si:])
		b64.Encode(out[di:], scratch[:c]) // whole groups but for the last piece
		si += c
		di += c / 3 * 4
	}
}

// Decrypt returns the plaintext of tok, with no time checks.
func (k *Key) Decrypt(tok []byte) ([]byte, error) {
	return k.DecryptAt(tok, NoTTL, time.Time{})
}

// DecryptTTL returns the plaintext of tok if it was made at most ttl ago
// (whole seconds, as in Python) and not more than [MaxClockSkew] in the
// future. A ttl of 0 is a real limit.
func (k *Key) DecryptTTL(tok []byte, ttl time.Duration) ([]byte, error) {
	return k.DecryptAt(tok, ttl, time.Now())
}

// DecryptAt is DecryptTTL with the verifier's clock given: it refuses tok
// when timestamp + ttl < now or timestamp > now + 60 s, in whole seconds
// (ttl rounded down), exactly as Python's Fernet.decrypt_at_time. With ttl
// equal to [NoTTL] there are no time checks and now is ignored.
//
// The MAC is checked, in constant time, before anything else about the
// token is used. The result is a fresh slice the caller owns.
func (k *Key) DecryptAt(tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	return k.s.decrypt(nil, tok, ttl, now)
}

// AppendDecrypt is DecryptAt that appends the plaintext to dst and returns
// the extended slice, allocating only when dst lacks the capacity (the
// decoded length of tok plus 32 bytes; len(tok)+32 is always enough). On
// failure it returns dst unchanged; its spare capacity may have been
// overwritten. tok must not overlap the spare capacity of dst.
func (k *Key) AppendDecrypt(dst, tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	return k.s.decrypt(dst, tok, ttl, now)
}

// decrypt is the one decryption path of a key; it appends the plaintext to
// dst. A token that fits an opState's scratch is decoded there and its
// plaintext written once: into the spare capacity of dst, or (dst nil) into
// a new slice of exactly its length. A larger token is decoded into the
// memory that will hold the result and decrypted in place: a new buffer the
// result is a subslice of (dst nil), or the spare capacity of dst.
func (s *keyState) decrypt(dst, tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	t := trimSpace(tok)
	if !plausible(t) {
		return dst, ErrInvalidToken
	}
	op := s.getOp()
	defer s.putOp(op)
	size := len(t) / 4 * 3
	if size <= scratchSize {
		raw, ok := decodeTokenInto(op.scratch[:size], t)
		if !ok || !op.verify(s, raw) || !timely(timestamp(raw), ttl, now) {
			return dst, ErrInvalidToken
		}
		out, ok := op.openTo(s, dst, raw)
		if !ok {
			return dst, ErrInvalidToken
		}
		return out, nil
	}
	var grown, buf []byte
	if dst == nil {
		buf = make([]byte, size)
	} else {
		grown = slices.Grow(dst, size)
		buf = grown[len(dst) : len(dst)+size]
	}
	raw, ok := decodeTokenInto(buf, t)
	if !ok || !op.verify(s, raw) || !timely(timestamp(raw), ttl, now) {
		return dst, ErrInvalidToken
	}
	msg, ok := op.openInPlace(s, raw)
	if !ok {
		clear(raw)
		return dst, ErrInvalidToken
	}
	if dst == nil {
		return msg, nil
	}
	m := copy(buf, msg) // forwards: msg starts headerSize bytes into buf
	clear(buf[m:len(raw)])
	return grown[:len(dst)+m], nil
}

// ExtractTimestamp returns the time a token was made, after checking its MAC.
func (k *Key) ExtractTimestamp(tok []byte) (time.Time, error) {
	raw, ok := decodeToken(tok)
	if !ok || !k.verify(raw) {
		return time.Time{}, ErrInvalidToken
	}
	return time.Unix(int64(timestamp(raw)), 0).UTC(), nil
}

func timestamp(raw []byte) uint64 { return binary.BigEndian.Uint64(raw[1:9]) }

// verify checks the MAC of a decoded token in constant time.
func (k *Key) verify(raw []byte) bool {
	op := k.s.getOp()
	ok := op.verify(k.s, raw)
	k.s.putOp(op)
	return ok
}

// openInPlace decrypts a verified token in place and returns its
// plaintext, a slice of raw with no spare capacity.
func (op *opState) openInPlace(s *keyState, raw []byte) ([]byte, bool) {
	body := raw[headerSize : len(raw)-hmacSize]
	op.cbcDecrypt(s, raw[9:headerSize], body, body)
	p, ok := padLen((*[aes.BlockSize]byte)(body[len(body)-aes.BlockSize:]))
	if !ok {
		return nil, false
	}
	m := len(body) - p
	return body[:m:m], true
}

// openTo decrypts a verified token, leaving raw as it was, and appends its
// plaintext to dst, or (dst nil) returns it in a new slice of exactly its
// length. The last block is decrypted first: its padding gives the length,
// so the plaintext is written once, straight into its place.
func (op *opState) openTo(s *keyState, dst, raw []byte) ([]byte, bool) {
	body := raw[headerSize : len(raw)-hmacSize]
	n := len(body) - aes.BlockSize // the blocks before the last
	last := &op.last
	op.cbcDecrypt(s, raw[headerSize+n-aes.BlockSize:headerSize+n], last[:], body[n:]) // from the IV when n == 0
	p, ok := padLen(last)
	if !ok {
		clear(last[:])
		return nil, false
	}
	m := n + aes.BlockSize - p
	var out []byte
	if dst == nil {
		out = make([]byte, m)
	} else {
		out = slices.Grow(dst, m)[:len(dst)+m]
	}
	res := out[len(out)-m:]
	if n > 0 {
		op.cbcDecrypt(s, raw[9:headerSize], res[:n], body[:n])
	}
	copy(res[n:], last[:])
	clear(last[:])
	return out, true
}

// timely applies Python's TTL rules: refuse when ts + ttl < now or
// now + 60 < ts, in whole seconds, with exact (128-bit) arithmetic.
func timely(ts uint64, ttl time.Duration, now time.Time) bool {
	if ttl == NoTTL {
		return true
	}
	secs := int64(ttl / time.Second)
	if ttl%time.Second < 0 {
		secs-- // round down, as Python compares ts + ttl < now
	}
	cur := i128of(now.Unix())
	t := i128{lo: ts}
	expired := t.add(i128of(secs)).less(cur)
	future := cur.add(i128of(int64(MaxClockSkew / time.Second))).less(t)
	return !expired && !future
}

// i128 is a signed 128-bit integer, enough for uint64 + int64 sums.
type i128 struct {
	hi int64
	lo uint64
}

func i128of(x int64) i128 { return i128{hi: x >> 63, lo: uint64(x)} }

func (a i128) add(b i128) i128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	return i128{hi: a.hi + b.hi + int64(c), lo: lo}
}

func (a i128) less(b i128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// plausible reports whether a trimmed token has a length a token can have.
func plausible(tok []byte) bool {
	return len(tok) >= b64.EncodedLen(minTokenSize) && len(tok)%4 == 0
}

// decodeToken accepts canonical URL-safe base64 with padding, with
// surrounding ASCII whitespace, and checks the version byte and lengths. The
// result is a new slice.
func decodeToken(tok []byte) ([]byte, bool) {
	tok = trimSpace(tok)
	if !plausible(tok) {
		return nil, false
	}
	return decodeTokenInto(make([]byte, len(tok)/4*3), tok)
}

// decodeTokenInto is decodeToken into buf, which must hold len(tok)/4*3
// bytes; tok is already trimmed. The result is a prefix of buf.
func decodeTokenInto(buf, tok []byte) ([]byte, bool) {
	if !plausible(tok) {
		return nil, false
	}
	n, ok := decodeBase64(buf, tok)
	if !ok {
		return nil, false
	}
	raw := buf[:n:n]
	if raw[0] != Version || (n-headerSize-hmacSize)%aes.BlockSize != 0 {
		return nil, false
	}
	return raw, true
}

// padLen returns the length of the strict PKCS#7 padding that ends last
// (1 to 16 bytes, each equal to the length), in constant time.
func padLen(last *[aes.BlockSize]byte) (int, bool) {
	p := last[aes.BlockSize-1]
	good := subtle.ConstantTimeLessOrEq(1, int(p)) & subtle.ConstantTimeLessOrEq(int(p), aes.BlockSize)
	// diff is zero in exactly the bytes equal to p. Read as the
	// little-endian 128-bit number hi:lo, its last p bytes are its top 8p
	// bits, so the padding holds when diff >> (128-8p) is zero: hi >>
	// (sh-64) when sh >= 64, else hi | lo >> sh. Go defines shifts by 64 or
	// more as giving zero, and compiles them without branches.
	rep := uint64(p) * 0x0101010101010101
	lo := binary.LittleEndian.Uint64(last[:8]) ^ rep
	hi := binary.LittleEndian.Uint64(last[8:]) ^ rep
	sh := uint(128-8*int(p)) & 0xff // exact for p <= 16; larger p fail good
	ge64 := uint(subtle.ConstantTimeLessOrEq(64, int(sh)))
	rest := hi>>((sh-64)&-ge64) | lo>>sh
	good &= subtle.ConstantTimeEq(int32(uint32(rest)|uint32(rest>>32)), 0)
	return int(p), good == 1
}

// decodeBase64 decodes canonical URL-safe base64 with padding into dst,
// which must hold len(src)/4*3 bytes; len(src) is a positive multiple of 4.
// It is the strict decoder of encoding/base64 (no stray padding, no
// non-zero unused bits in the last character), which also refuses CR and
// LF: encoding/base64 skips them, so their presence shows as a decoded
// length that does not encode back to len(src).
func decodeBase64(dst, src []byte) (int, bool) {
	n, err := strict.Decode(dst, src)
	return n, err == nil && b64.EncodedLen(n) == len(src)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
