// Package safefile writes files the one way sa01-secrets writes any file
// that matters (exports, env files, baselines, backups, credentials): into a
// new temporary file beside the target, opened with O_EXCL and O_NOFOLLOW,
// mode 0600 unless told otherwise, synced, then renamed over the target, and
// the directory synced. A reader sees the old file or the new one, never a
// mix, and a crash leaves at most a stray temporary file.
//
// A target that is a symbolic link is refused ([ErrLink]): following one
// would let whoever planted it choose which file is replaced (a baseline
// pointing at .git/hooks/pre-commit, say).
package safefile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrLink: the target is a symbolic link, which is never followed.
var ErrLink = errors.New("is a symbolic link; refusing to write through it")

// Error says which file could not be written and at which step. It never
// holds the data.
type Error struct {
	Path string
	Op   string // what failed: "create", "write", "sync", "rename", ...
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: cannot %s: %v", e.Path, e.Op, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// File is a file being written; nothing is visible at its path until
// Commit. Abort (or a failed Commit) removes the temporary file. A File is
// not safe for concurrent use.
type File struct {
	path string
	tmp  string
	f    *os.File
	done bool
}

// Options change how Create writes. The zero value writes mode 0600 and
// leaves the new file owned by the caller.
type Options struct {
	Perm      fs.FileMode // 0: 0600
	KeepOwner bool        // give the new file the old file's owner and group when allowed (best effort)
}

// Create starts writing path. The target's directory must exist; a target
// that is a symbolic link is refused with ErrLink, and one that is not a
// regular file with an *Error.
func Create(path string, o Options) (*File, error) {
	perm := o.Perm
	if perm == 0 {
		perm = 0o600
	}
	old, err := os.Lstat(path)
	switch {
	case err == nil && old.Mode()&fs.ModeSymlink != 0:
		return nil, &Error{Path: path, Op: "write", Err: ErrLink}
	case err == nil && !old.Mode().IsRegular():
		return nil, &Error{Path: path, Op: "write", Err: errors.New("not a regular file")}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Path: path, Op: "inspect", Err: err}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var f *os.File
	var tmp string
	for range 16 {
		tmp = filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(randUint(), 36))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, &Error{Path: path, Op: "create a temporary file beside it", Err: err}
	}
	// The umask may have narrowed perm; the mode asked for is the mode set.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, &Error{Path: path, Op: "set the mode of the temporary file", Err: err}
	}
	if o.KeepOwner && old != nil {
		if st, ok := old.Sys().(*syscall.Stat_t); ok {
			_ = f.Chown(int(st.Uid), int(st.Gid)) // only root may give a file away
		}
	}
	return &File{path: path, tmp: tmp, f: f}, nil
}

func randUint() uint64 {
	var b [8]byte
	rand.Read(b[:])
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

// Write writes to the temporary file.
func (w *File) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		return n, &Error{Path: w.path, Op: "write", Err: err}
	}
	return n, nil
}

// Name is the path the file will have once committed.
func (w *File) Name() string { return w.path }

// Commit syncs the temporary file, renames it over the target and syncs the
// directory. After an error the target is unchanged (unless only the
// directory sync failed) and the temporary file is gone.
func (w *File) Commit() error {
	if w.done {
		return &Error{Path: w.path, Op: "commit", Err: errors.New("already committed or aborted")}
	}
	w.done = true
	fail := func(op string, err error) error {
		w.f.Close()
		os.Remove(w.tmp)
		return &Error{Path: w.path, Op: op, Err: err}
	}
	if err := w.f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.tmp)
		return &Error{Path: w.path, Op: "close", Err: err}
	}
	// Checked again: a link planted while the file was written is refused too.
	if fi, err := os.Lstat(w.path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		os.Remove(w.tmp)
		return &Error{Path: w.path, Op: "write", Err: ErrLink}
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		os.Remove(w.tmp)
		return &Error{Path: w.path, Op: "rename the temporary file into place", Err: err}
	}
	if err := SyncDir(filepath.Dir(w.path)); err != nil {
		return &Error{Path: w.path, Op: "sync its directory", Err: err}
	}
	return nil
}

// Abort drops the temporary file; the target is unchanged. It is a no-op
// after Commit, so `defer f.Abort()` is always safe.
func (w *File) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.tmp)
}

// WriteFile writes data to path atomically (see the package comment).
func WriteFile(path string, data []byte, o Options) error {
	f, err := Create(path, o)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// SyncDir syncs a directory, so that a rename or a new file in it survives
// a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
