package rotate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned (wrapped in a *LockedError) when another rotation
// holds a lock.
var ErrLocked = errors.New("another rotation is running")

// LockedError names the lock that is held and, when known, who holds it
// (host, process ID and start time; never a secret).
type LockedError struct {
	What   string // "env file /etc/sa01/.env" or "store"
	Holder string
}

func (e *LockedError) Error() string {
	s := "another rotation is running: the " + e.What + " is locked"
	if e.Holder != "" {
		s += " by " + e.Holder
	}
	return s
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Holder describes this process for lock records: host, process ID and
// time.
func Holder() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("pid %d on %s since %s", os.Getpid(), h, time.Now().UTC().Format(time.RFC3339))
}

// FileLock is an exclusive advisory lock (flock) on a file. The kernel
// releases it when the process dies, kill -9 included, so a crash never
// leaves it held.
type FileLock struct {
	f *os.File
}

// LockFile takes an exclusive lock on path (created 0600 if missing). The
// lock file is never removed: removing it would let two processes lock two
// different files. With wait 0 a held lock fails at once with a
// *LockedError; otherwise LockFile retries until wait has passed or ctx
// ends.
func LockFile(ctx context.Context, path string, wait time.Duration) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file %s: cannot open: %w", path, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock file %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			holder := readHolder(path)
			f.Close()
			return nil, &LockedError{What: "lock file " + path, Holder: holder}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Record the holder for the error message of whoever waits next.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(Holder()+"\n"), 0)
	return &FileLock{f: f}, nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 256 {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Release releases the lock.
func (l *FileLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
