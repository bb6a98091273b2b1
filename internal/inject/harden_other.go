//go:build !linux

package inject

// Harden does nothing outside Linux: PR_SET_DUMPABLE is Linux's.
func Harden() error { return nil }
