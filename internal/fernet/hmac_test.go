package fernet

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// checkHMAC compares opState.sign, from the pads of key, with crypto/hmac
// on one input.
func checkHMAC(t testing.TB, key, msg []byte) {
	t.Helper()
	s := &keyState{pads: newHMACPads(key)}
	op := &opState{inner: newStateHash(), outer: newStateHash()}
	var got [hmacSize]byte
	for range 2 { // the second MAC starts from the states the first left
		op.sign(s, &got, msg)
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		if want := m.Sum(nil); !bytes.Equal(got[:], want) {
			t.Fatalf("key of %d bytes, message of %d: HMAC %x, want %x", len(key), len(msg), got, want)
		}
	}
}

func TestHMACAgainstStdlib(t *testing.T) {
	// Every message length across the one- and two-block endings, then
	// token-sized ones; keys of Fernet's 16 bytes and of other lengths.
	for _, kl := range []int{0, 1, 16, 32, 63, 64} {
		key := make([]byte, kl)
		rand.Read(key)
		for n := 0; n <= 200; n++ {
			msg := make([]byte, n)
			rand.Read(msg)
			checkHMAC(t, key, msg)
		}
		for _, n := range []int{1065, 4089, 65577} {
			msg := make([]byte, n)
			rand.Read(msg)
			checkHMAC(t, key, msg)
		}
	}
	// RFC 4231 test case 2.
	var got [hmacSize]byte
	s := &keyState{pads: newHMACPads([]byte("Jefe"))}
	(&opState{inner: newStateHash(), outer: newStateHash()}).sign(s, &got, []byte("what do ya want for nothing?"))
	want := []byte{0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
		0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43}
	if !bytes.Equal(got[:], want) {
		t.Fatalf("RFC 4231 case 2: %x", got)
	}
}

// FuzzHMAC: the HMAC from precomputed pads agrees with crypto/hmac on any
// key of up to a block and any message.
func FuzzHMAC(f *testing.F) {
	f.Add(make([]byte, 16), []byte("what do ya want for nothing?"))
	f.Add(bytes.Repeat([]byte{0x0b}, 16), bytes.Repeat([]byte{'x'}, 55))
	f.Add(bytes.Repeat([]byte{0xaa}, 16), bytes.Repeat([]byte{'y'}, 56))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		if len(key) > 64 {
			key = key[:64]
		}
		checkHMAC(t, key, msg)
	})
}

// TestEncodeThrough: the encoder of tokens larger than the scratch agrees
// with encoding/base64 at every remainder, over one, two and many pieces.
func TestEncodeThrough(t *testing.T) {
	var scratch [scratchSize]byte
	for _, base := range []int{0, scratchSize, 2 * scratchSize, 16 * scratchSize} {
		for d := -4; d <= 4; d++ {
			n := base + d
			if n < 0 {
				continue
			}
			in := make([]byte, n)
			rand.Read(in)
			buf := make([]byte, base64.URLEncoding.EncodedLen(n))
			copy(buf[len(buf)-n:], in)
			encodeThrough(buf, n, &scratch)
			if want := base64.URLEncoding.EncodeToString(in); string(buf) != want {
				t.Fatalf("%d bytes: encodeThrough differs from encoding/base64", n)
			}
		}
	}
}
