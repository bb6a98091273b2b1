package fernet

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// checkHMAC compares hmacKeys.sum with crypto/hmac on one input.
func checkHMAC(t testing.TB, key, msg []byte) {
	t.Helper()
	hk := newHMACKeys(key)
	var got [hmacSize]byte
	var buf [128]byte
	hk.sum(&got, msg, &buf)
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	if want := m.Sum(nil); !bytes.Equal(got[:], want) {
		t.Fatalf("key of %d bytes, message of %d: HMAC %x, want %x", len(key), len(msg), got, want)
	}
}

func TestHMACAgainstStdlib(t *testing.T) {
	if !hasSHANI {
		t.Skip("no SHA-NI assembly on this machine")
	}
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
	var buf [128]byte
	newHMACKeys([]byte("Jefe")).sum(&got, []byte("what do ya want for nothing?"), &buf)
	want := []byte{0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
		0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43}
	if !bytes.Equal(got[:], want) {
		t.Fatalf("RFC 4231 case 2: %x", got)
	}
}

// FuzzHMAC: the SHA-NI HMAC agrees with crypto/hmac on any 16-byte key
// and message.
func FuzzHMAC(f *testing.F) {
	f.Add(make([]byte, 16), []byte("what do ya want for nothing?"))
	f.Add(bytes.Repeat([]byte{0x0b}, 16), bytes.Repeat([]byte{'x'}, 55))
	f.Add(bytes.Repeat([]byte{0xaa}, 16), bytes.Repeat([]byte{'y'}, 56))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		if !hasSHANI {
			t.Skip("no SHA-NI assembly on this machine")
		}
		if len(key) > 64 {
			key = key[:64]
		}
		checkHMAC(t, key, msg)
	})
}
