//go:build !amd64 || purego

package fernet

// hasAESNI is false where cbc_amd64.s is not built: keys use crypto/aes
// and crypto/cipher.
const hasAESNI = false

func expandKey128(key *[16]byte, enc, dec *[176]byte) { panic("fernet: no AES-NI") }

func cbcEncrypt128(enc *[176]byte, iv *[16]byte, dst, src *byte, n int) {
	panic("fernet: no AES-NI")
}

func cbcDecrypt128(dec *[176]byte, iv *[16]byte, dst, src *byte, n int) {
	panic("fernet: no AES-NI")
}
