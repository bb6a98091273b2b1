//go:build amd64 && !purego

package fernet

import "golang.org/x/sys/cpu"

// hasSHANI reports whether sha256BlockSHANI can run: it needs the SHA
// extensions, SSSE3, SSE4.1 and AVX, as Go's own SHA-NI path does.
var hasSHANI = cpu.X86.HasAVX && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3 && hasSHAExtensions()

func hasSHAExtensions() bool {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0
}

// sha256BlockSHANI runs the SHA-256 block function over each whole 64-byte
// block of p, updating h.
//
//go:noescape
func sha256BlockSHANI(h *[8]uint32, p []byte)

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
