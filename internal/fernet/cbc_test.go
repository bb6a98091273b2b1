package fernet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
	"time"
)

// genericKey is newKey without the assembly: crypto/cipher's CBC and
// crypto/hmac.
func genericKey(raw []byte) *Key {
	k := newKey(raw)
	k.s.rk, k.s.hk = nil, nil
	return k
}

// checkCBC compares the assembly with crypto/cipher on one input, in place
// and into another buffer, both ways.
func checkCBC(t testing.TB, key, iv [16]byte, data []byte) {
	t.Helper()
	n := len(data) / 16
	data = data[:n*16]
	var rk roundKeys
	expandKey128(&key, &rk.enc, &rk.dec)
	blk, _ := aes.NewCipher(key[:])
	want := make([]byte, len(data))
	cipher.NewCBCEncrypter(blk, iv[:]).CryptBlocks(want, data)
	got := make([]byte, len(data)+1)
	inPlace := append([]byte(nil), data...)
	if n > 0 {
		cbcEncrypt128(&rk.enc, &iv, &got[0], &data[0], n)
		cbcEncrypt128(&rk.enc, &iv, &inPlace[0], &inPlace[0], n)
	}
	if !bytes.Equal(got[:len(data)], want) || !bytes.Equal(inPlace, want) || got[len(data)] != 0 {
		t.Fatalf("key %x iv %x, %d blocks: encryption differs from crypto/cipher", key, iv, n)
	}
	cipher.NewCBCDecrypter(blk, iv[:]).CryptBlocks(want, data)
	got = make([]byte, len(data)+1)
	inPlace = append(inPlace[:0], data...)
	if n > 0 {
		cbcDecrypt128(&rk.dec, &iv, &got[0], &data[0], n)
		cbcDecrypt128(&rk.dec, &iv, &inPlace[0], &inPlace[0], n)
	}
	if !bytes.Equal(got[:len(data)], want) || !bytes.Equal(inPlace, want) || got[len(data)] != 0 {
		t.Fatalf("key %x iv %x, %d blocks: decryption differs from crypto/cipher", key, iv, n)
	}
}

func TestCBCAgainstStdlib(t *testing.T) {
	if !hasAESNI {
		t.Skip("no AES-NI assembly on this machine")
	}
	var key, iv [16]byte
	for n := range 70 { // every remainder of the 8-block loop, several times
		rand.Read(key[:])
		rand.Read(iv[:])
		data := make([]byte, n*16)
		rand.Read(data)
		checkCBC(t, key, iv, data)
	}
	// FIPS-197 appendix A.1: the last round key of 2b7e1516...
	key = [16]byte{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}
	var rk roundKeys
	expandKey128(&key, &rk.enc, &rk.dec)
	last := []byte{0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89, 0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63, 0x0c, 0xa6}
	if !bytes.Equal(rk.enc[160:], last) || !bytes.Equal(rk.dec[:16], last) || !bytes.Equal(rk.dec[160:], key[:]) {
		t.Fatalf("round keys of the FIPS-197 key: enc[10] %x, dec[0] %x, dec[10] %x", rk.enc[160:], rk.dec[:16], rk.dec[160:])
	}
}

// TestGenericAndAssemblyAgree: tokens made with the assembly decrypt with
// crypto/cipher's CBC and the other way round, at every size class, in a
// ring too. Where there is no assembly both keys are generic.
func TestGenericAndAssemblyAgree(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	fast, slow := newKey(raw), genericKey(raw)
	if hasAESNI != (fast.s.rk != nil) || hasSHANI != (fast.s.hk != nil) {
		t.Fatalf("AES-NI %v, SHA-NI %v, but round keys %v, HMAC states %v", hasAESNI, hasSHANI, fast.s.rk != nil, fast.s.hk != nil)
	}
	for _, n := range []int{0, 1, 15, 16, 17, 127, 128, 129, 1000, 4031, 4032, 65536} {
		msg := make([]byte, n)
		rand.Read(msg)
		for _, c := range []struct{ from, to *Key }{{fast, slow}, {slow, fast}} {
			tok := c.from.Encrypt(msg)
			if got, err := c.to.Decrypt(tok); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if got, err := c.to.AppendDecrypt([]byte("p"), tok, NoTTL, time.Time{}); err != nil || !bytes.Equal(got[1:], msg) {
				t.Fatalf("%d bytes, appended: %v", n, err)
			}
		}
	}
	r, err := NewRing(GenerateKey(), slow)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := r.Rotate(fast.Encrypt([]byte("secret")))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Decrypt(rot); err != nil || string(got) != "secret" {
		t.Fatalf("rotated: %q, %v", got, err)
	}
}

// FuzzCBC: the assembly agrees with crypto/cipher on any key, IV and data.
func FuzzCBC(f *testing.F) {
	f.Add(make([]byte, 32), make([]byte, 16*9))
	f.Add(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0xa5}, 16*17))
	f.Fuzz(func(t *testing.T, keyIV, data []byte) {
		if !hasAESNI {
			t.Skip("no AES-NI assembly on this machine")
		}
		var key, iv [16]byte
		copy(key[:], keyIV)
		if len(keyIV) > 16 {
			copy(iv[:], keyIV[16:])
		}
		checkCBC(t, key, iv, data)
	})
}
