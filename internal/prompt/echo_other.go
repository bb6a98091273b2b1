//go:build !linux

package prompt

import (
	"errors"
	"os"
)

// echoOff is supported on Linux only, where sa01-secrets runs.
func echoOff(*os.File) (func(), error) {
	return nil, errors.New("hidden input is supported on Linux only; pass the value on stdin or with --from-file")
}
