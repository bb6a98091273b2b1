//go:build !(linux && amd64)

package fernet

import "time"

// unixNow returns the wall clock in whole seconds.
func unixNow() uint64 { return uint64(time.Now().Unix()) }
