//go:build amd64 && !purego

package fernet

import "golang.org/x/sys/cpu"

// hasAESNI reports whether the assembly in cbc_amd64.s can run: it needs
// AES-NI (and SSE2, which every amd64 CPU has).
var hasAESNI = cpu.X86.HasAES

// expandKey128 writes the AES-128 round keys of key: enc for encryption,
// dec (InvMixColumns applied, in reverse order) for decryption.
//
//go:noescape
func expandKey128(key *[16]byte, enc, dec *[176]byte)

// cbcEncrypt128 encrypts n blocks of src into dst with AES-128-CBC, from
// iv. dst and src are the same memory or do not overlap.
//
//go:noescape
func cbcEncrypt128(enc *[176]byte, iv *[16]byte, dst, src *byte, n int)

// cbcDecrypt128 decrypts n blocks of src into dst with AES-128-CBC, from
// iv, eight blocks at a time. dst and src are the same memory or do not
// overlap.
//
//go:noescape
func cbcDecrypt128(dec *[176]byte, iv *[16]byte, dst, src *byte, n int)
