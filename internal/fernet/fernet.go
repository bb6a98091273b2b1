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
// Keys are safe for concurrent use by many goroutines.
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
	"hash"
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
	id   string
	ops  sync.Pool // of *opState
}

// opState is the per-operation state of a key: an HMAC with its pads
// absorbed once, and CBC modes whose IV is set per token. A key hands one to
// each concurrent operation through a sync.Pool, so a key is safe for
// concurrent use and an operation allocates nothing but its result.
type opState struct {
	mac hash.Hash
	enc cipher.BlockMode
	dec cipher.BlockMode
	sum [hmacSize]byte
}

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
	mac := hmac.New(sha256.New, s.sign[:])
	mac.Reset() // absorbs the pads once; later Resets restore that state
	return &opState{
		mac: mac,
		enc: cipher.NewCBCEncrypter(s.blk, zero[:]),
		dec: cipher.NewCBCDecrypter(s.blk, zero[:]),
	}
}

func (s *keyState) putOp(op *opState) { s.ops.Put(op) }

// cbcEncrypt encrypts body in place with iv.
func (op *opState) cbcEncrypt(s *keyState, iv, body []byte) {
	if v, ok := op.enc.(ivSetter); ok {
		v.SetIV(iv)
		op.enc.CryptBlocks(body, body)
		return
	}
	cipher.NewCBCEncrypter(s.blk, iv).CryptBlocks(body, body)
}

// cbcDecrypt decrypts body in place with iv.
func (op *opState) cbcDecrypt(s *keyState, iv, body []byte) {
	if v, ok := op.dec.(ivSetter); ok {
		v.SetIV(iv)
		op.dec.CryptBlocks(body, body)
		return
	}
	cipher.NewCBCDecrypter(s.blk, iv).CryptBlocks(body, body)
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
	return k.seal(nil, msg, nil, uint64(time.Now().Unix()))
}

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
	return k.seal(dst, msg, nil, uint64(time.Now().Unix()))
}

// encryptAt is EncryptAt with a chosen IV, for the spec's vectors.
func (k *Key) encryptAt(msg, iv []byte, now time.Time) []byte {
	return k.seal(nil, msg, iv, uint64(now.Unix()))
}

// EncodedLen returns the length of the token of an n-byte message.
func EncodedLen(n int) int { return b64.EncodedLen(rawLen(n)) }

func rawLen(n int) int { return headerSize + (n/aes.BlockSize+1)*aes.BlockSize + hmacSize }

// seal appends a token to dst in at most one allocation: the raw token is
// assembled at the tail of the output and base64-encoded forwards into the
// same bytes (see encodeTail). iv nil means a random IV.
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
	raw := out[e-n:]
	body := raw[headerSize : n-hmacSize]
	copy(body, msg)
	p := byte(len(body) - len(msg))
	for i := len(msg); i < len(body); i++ {
		body[i] = p
	}
	raw[0] = Version
	binary.BigEndian.PutUint64(raw[1:9], ts)
	if iv == nil {
		_, _ = rand.Read(raw[9:headerSize])
	} else {
		copy(raw[9:headerSize], iv)
	}
	op := s.getOp()
	op.cbcEncrypt(s, raw[9:headerSize], body)
	op.mac.Reset()
	op.mac.Write(raw[:n-hmacSize])
	op.mac.Sum(raw[:n-hmacSize])
	s.putOp(op)
	encodeTail(out, n)
	return ret
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
	raw, ok := decodeToken(tok)
	if !ok {
		return nil, ErrInvalidToken
	}
	s := k.s
	op := s.getOp()
	defer s.putOp(op)
	if !op.verify(raw) || !timely(timestamp(raw), ttl, now) {
		return nil, ErrInvalidToken
	}
	return op.open(s, raw)
}

// AppendDecrypt is DecryptAt that appends the plaintext to dst and returns
// the extended slice, allocating only when dst lacks the capacity (the
// decoded length of tok plus 32 bytes; len(tok)+32 is always enough). On
// failure it returns dst unchanged; its spare capacity may have been
// overwritten. tok must not overlap the spare capacity of dst.
func (k *Key) AppendDecrypt(dst, tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	t := trimSpace(tok)
	buf := slices.Grow(dst, len(t)/4*3)
	raw, ok := decodeTokenInto(buf[len(dst):cap(buf)], t)
	if !ok {
		return dst, ErrInvalidToken
	}
	s := k.s
	op := s.getOp()
	defer s.putOp(op)
	if !op.verify(raw) || !timely(timestamp(raw), ttl, now) {
		return dst, ErrInvalidToken
	}
	msg, err := op.open(s, raw)
	if err != nil {
		clear(raw)
		return dst, err
	}
	m := copy(buf[len(dst):cap(buf)], msg)
	return buf[:len(dst)+m], nil
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
	ok := op.verify(raw)
	k.s.putOp(op)
	return ok
}

// verify checks the MAC of a decoded token in constant time.
func (op *opState) verify(raw []byte) bool {
	n := len(raw) - hmacSize
	op.mac.Reset()
	op.mac.Write(raw[:n])
	return hmac.Equal(op.mac.Sum(op.sum[:0]), raw[n:])
}

// open decrypts a verified token in place and returns its plaintext, a
// slice of raw with no spare capacity.
func (op *opState) open(s *keyState, raw []byte) ([]byte, error) {
	body := raw[headerSize : len(raw)-hmacSize]
	op.cbcDecrypt(s, raw[9:headerSize], body)
	return unpad(body)
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

// decodeToken accepts canonical URL-safe base64 with padding, with
// surrounding ASCII whitespace, and checks the version byte and lengths.
func decodeToken(tok []byte) ([]byte, bool) {
	tok = trimSpace(tok)
	if len(tok) < b64.EncodedLen(minTokenSize) || len(tok)%4 != 0 {
		return nil, false
	}
	return decodeTokenInto(make([]byte, len(tok)/4*3), tok)
}

// decodeTokenInto is decodeToken into buf, which must hold len(tok)/4*3
// bytes; tok is already trimmed.
func decodeTokenInto(buf, tok []byte) ([]byte, bool) {
	if len(tok) < b64.EncodedLen(minTokenSize) || len(tok)%4 != 0 {
		return nil, false
	}
	want := len(tok) / 4 * 3
	if tok[len(tok)-1] == '=' {
		want--
		if tok[len(tok)-2] == '=' {
			want--
		}
	}
	n, err := strict.Decode(buf, tok)
	// The decoder skips '\r' and '\n'; a token holding them decodes short.
	if err != nil || n != want {
		return nil, false
	}
	raw := buf[:n:n]
	if raw[0] != Version || (n-headerSize-hmacSize)%aes.BlockSize != 0 {
		return nil, false
	}
	return raw, true
}

// unpad strips strict PKCS#7 padding, in constant time over the last block.
func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, ErrInvalidToken
	}
	last := b[len(b)-aes.BlockSize:]
	p := last[aes.BlockSize-1]
	// good is 1 when 1 <= p <= 16 and the last p bytes all equal p.
	good := subtle.ConstantTimeLessOrEq(1, int(p)) & subtle.ConstantTimeLessOrEq(int(p), aes.BlockSize)
	for i := 0; i < aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(aes.BlockSize-i, int(p))
		eq := subtle.ConstantTimeByteEq(last[i], p)
		good &= eq | (inPad ^ 1)
	}
	if good != 1 {
		return nil, ErrInvalidToken
	}
	m := len(b) - int(p)
	return b[:m:m], nil
}

const encodeStd = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// encodePairs maps 12 bits to their two base64 characters, little-endian,
// so that a 3-byte group is encoded with two lookups and one 4-byte store.
var encodePairs = func() (t [4096]uint16) {
	for i := range t {
		t[i] = uint16(encodeStd[i>>6]) | uint16(encodeStd[i&0x3F])<<8
	}
	return t
}()

// encodeTail base64-encodes (URL-safe, padded) the last n bytes of buf into
// buf itself, from the start; len(buf) must be the encoded length of n.
// It is safe because each 3-byte group is read before its 4 output bytes are
// written, and the k-th output group ends at 4k+4 <= the start of the next
// unread input group, (len(buf)-n) + 3k+3, as len(buf)-n >= ceil(n/3).
func encodeTail(buf []byte, n int) {
	si := len(buf) - n
	di := 0
	full := si + n/3*3
	for si < full {
		src := buf[si : si+3 : si+3]
		val := uint32(src[0])<<16 | uint32(src[1])<<8 | uint32(src[2])
		binary.LittleEndian.PutUint32(buf[di:di+4:di+4], uint32(encodePairs[val>>12])|uint32(encodePairs[val&0xFFF])<<16)
		si += 3
		di += 4
	}
	switch n % 3 {
	case 1:
		val := uint(buf[si]) << 16
		buf[di] = encodeStd[val>>18&0x3F]
		buf[di+1] = encodeStd[val>>12&0x3F]
		buf[di+2] = '='
		buf[di+3] = '='
	case 2:
		val := uint(buf[si])<<16 | uint(buf[si+1])<<8
		buf[di] = encodeStd[val>>18&0x3F]
		buf[di+1] = encodeStd[val>>12&0x3F]
		buf[di+2] = encodeStd[val>>6&0x3F]
		buf[di+3] = '='
	}
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
