package safefile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooOpen: a private file (a key, a credential) may be read or written
// by its group or by others. It is refused, as ssh refuses such a private
// key: whoever else can read it holds the secret too.
var ErrTooOpen = errors.New("is readable or writable by group or others; chmod 600 it")

// ErrNotRegular: the path names a directory, a device or a pipe, not a
// file.
var ErrNotRegular = errors.New("not a regular file")

// ReadPrivate reads a file that holds a secret: a regular file of at most
// max bytes that neither group nor others may read or write. Its errors
// name the file (in an *Error), never its contents.
func ReadPrivate(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Path: path, Op: "open", Err: errors.Unwrap(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{Path: path, Op: "stat", Err: errors.Unwrap(err)}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Op: "read", Err: ErrNotRegular}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, &Error{Path: path, Op: "read", Err: fmt.Errorf("mode %04o %w", perm, ErrTooOpen)}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &Error{Path: path, Op: "read", Err: errors.Unwrap(err)}
	}
	if int64(len(b)) > max {
		return nil, &Error{Path: path, Op: "read", Err: fmt.Errorf("larger than %d bytes", max)}
	}
	return b, nil
}
