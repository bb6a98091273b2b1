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
	"strings"
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
)

// ErrInvalidToken is returned for every token that does not decrypt: wrong
// key, bad MAC, bad padding, malformed encoding, expired or from the future.
var ErrInvalidToken = errors.New("fernet: invalid token")

var b64 = base64.URLEncoding

// Key is a Fernet key. It has no String method: it never prints itself. The
// zero Key is not valid; make one with [GenerateKey] or [ParseKey].
type Key struct {
	_    [0]func() // incomparable: compare with Equal
	sign [16]byte
	enc  [16]byte
	blk  cipher.Block
	id   string
}

// GenerateKey returns a new random key.
func GenerateKey() *Key {
	var raw [keySize]byte
	_, _ = rand.Read(raw[:]) // never fails since Go 1.24
	return newKey(raw[:])
}

// KeyError describes why a key could not be parsed. It never holds the key.
type KeyError struct{ Reason string }

func (e *KeyError) Error() string { return "fernet: invalid key: " + e.Reason }

// ParseKey parses a key in the form Python's Fernet(key) takes: 32 bytes in
// URL-safe base64 with padding (44 characters). Surrounding whitespace is
// ignored. The error says what is wrong and never echoes the input.
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
	raw, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, &KeyError{Reason: "not URL-safe base64"}
	}
	if len(raw) != keySize {
		return nil, &KeyError{Reason: "wrong length; want 32 bytes"}
	}
	return newKey(raw), nil
}

func newKey(raw []byte) *Key {
	k := &Key{}
	copy(k.sign[:], raw[:16])
	copy(k.enc[:], raw[16:])
	blk, err := aes.NewCipher(k.enc[:])
	if err != nil {
		panic("fernet: " + err.Error()) // 16-byte key: cannot happen
	}
	k.blk = blk
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("sa01-secrets/key-id/v1"))
	k.id = hex.EncodeToString(m.Sum(nil)[:6])
	return k
}

// Encode returns the key in Python's form (URL-safe base64 with padding).
// It is the one way to the key material; treat its result as a secret.
func (k *Key) Encode() string {
	var raw [keySize]byte
	copy(raw[:16], k.sign[:])
	copy(raw[16:], k.enc[:])
	return b64.EncodeToString(raw[:])
}

// ID returns the key ID: 12 lowercase hex characters, the first 48 bits of
// HMAC-SHA256(key, "sa01-secrets/key-id/v1"). It names the key in logs,
// errors and the store, and reveals nothing about it.
func (k *Key) ID() string { return k.id }

// Equal reports whether k and o are the same key, in constant time.
func (k *Key) Equal(o *Key) bool {
	return subtle.ConstantTimeCompare(k.sign[:], o.sign[:])&subtle.ConstantTimeCompare(k.enc[:], o.enc[:]) == 1
}

// Subkey derives a 32-byte key for another purpose, named by label, as
// HMAC-SHA256(key, "sa01-secrets/" + label). Distinct labels give
// independent keys; the Fernet key cannot be recovered from a subkey.
func (k *Key) Subkey(label string) [32]byte {
	var raw [keySize]byte
	copy(raw[:16], k.sign[:])
	copy(raw[16:], k.enc[:])
	m := hmac.New(sha256.New, raw[:])
	m.Write([]byte("sa01-secrets/" + label))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Encrypt returns a new token for msg, stamped with the current time.
func (k *Key) Encrypt(msg []byte) []byte {
	return k.EncryptAt(msg, time.Now())
}

// EncryptAt returns a new token for msg, stamped with now. The IV is random:
// unique for all time, for a given key, with overwhelming probability.
func (k *Key) EncryptAt(msg []byte, now time.Time) []byte {
	var iv [ivSize]byte
	_, _ = rand.Read(iv[:])
	return k.encryptAt(msg, iv[:], now)
}

// encryptAt is EncryptAt with a chosen IV, for the spec's vectors.
func (k *Key) encryptAt(msg, iv []byte, now time.Time) []byte {
	padded := aes.BlockSize - len(msg)%aes.BlockSize
	n := headerSize + len(msg) + padded + hmacSize
	raw := make([]byte, n, n)
	raw[0] = Version
	binary.BigEndian.PutUint64(raw[1:9], uint64(now.Unix()))
	copy(raw[9:headerSize], iv)
	body := raw[headerSize : n-hmacSize]
	copy(body, msg)
	for i := len(msg); i < len(body); i++ {
		body[i] = byte(padded)
	}
	cipher.NewCBCEncrypter(k.blk, iv).CryptBlocks(body, body)
	m := hmac.New(sha256.New, k.sign[:])
	m.Write(raw[:n-hmacSize])
	m.Sum(raw[:n-hmacSize])
	out := make([]byte, b64.EncodedLen(n))
	b64.Encode(out, raw)
	return out
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

// DecryptAt is DecryptTTL with the verifier's clock given. With ttl equal to
// [NoTTL] there are no time checks and now is ignored.
func (k *Key) DecryptAt(tok []byte, ttl time.Duration, now time.Time) ([]byte, error) {
	raw, err := k.verify(tok)
	if err != nil {
		return nil, err
	}
	if ttl >= 0 {
		ts := int64(binary.BigEndian.Uint64(raw[1:9]))
		cur := now.Unix()
		if ts+int64(ttl/time.Second) < cur || ts > cur+int64(MaxClockSkew/time.Second) {
			return nil, ErrInvalidToken
		}
	}
	iv := raw[9:headerSize]
	body := raw[headerSize : len(raw)-hmacSize]
	cipher.NewCBCDecrypter(k.blk, iv).CryptBlocks(body, body)
	return unpad(body)
}

// ExtractTimestamp returns the time a token was made, after checking its MAC.
func (k *Key) ExtractTimestamp(tok []byte) (time.Time, error) {
	raw, err := k.verify(tok)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0).UTC(), nil
}

// verify decodes tok and checks its structure and MAC in constant time. It
// returns the raw token in a fresh buffer the caller may decrypt in place.
func (k *Key) verify(tok []byte) ([]byte, error) {
	raw, err := decodeToken(tok)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k.sign[:])
	m.Write(raw[:len(raw)-hmacSize])
	if !hmac.Equal(m.Sum(nil), raw[len(raw)-hmacSize:]) {
		return nil, ErrInvalidToken
	}
	return raw, nil
}

// decodeToken accepts canonical URL-safe base64 with padding, with
// surrounding ASCII whitespace, and checks the version byte and lengths.
func decodeToken(tok []byte) ([]byte, error) {
	tok = trimSpace(tok)
	if len(tok) == 0 || len(tok)%4 != 0 {
		return nil, ErrInvalidToken
	}
	raw := make([]byte, b64.DecodedLen(len(tok)))
	n, err := b64.Strict().Decode(raw, tok)
	if err != nil {
		return nil, ErrInvalidToken
	}
	raw = raw[:n]
	if n < minTokenSize || raw[0] != Version || (n-headerSize-hmacSize)%aes.BlockSize != 0 {
		return nil, ErrInvalidToken
	}
	return raw, nil
}

func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrInvalidToken
	}
	p := int(b[len(b)-1])
	if p == 0 || p > aes.BlockSize || p > len(b) {
		return nil, ErrInvalidToken
	}
	bad := 0
	for _, c := range b[len(b)-p:] {
		bad |= int(c) ^ p
	}
	if bad != 0 {
		return nil, ErrInvalidToken
	}
	return b[:len(b)-p], nil
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
