//go:build !amd64 || purego

package fernet

// hasSHANI is false where sha256_amd64.s is not built: MACs use
// crypto/hmac.
const hasSHANI = false

func sha256BlockSHANI(h *[8]uint32, p []byte) { panic("fernet: no SHA extensions") }
