package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// File is the JSON-lines sink: one Entry per line, chained on its own (the
// first line of a file has seq 1 and prev ZeroHash), so a shipped file can
// be verified alone with VerifyFile. It is a BatchWriter: wrap it in a
// Batcher so that concurrent events share one write and one fsync.
//
// A file is created with mode 0600. Opening an existing file resumes its
// chain from its last line. Several processes may append to one file (a
// server and the CLI on the same host, with the same SA01_SECRETS_AUDIT_FILE): each
// batch is written under an exclusive flock, after the chain's head is read
// again from the file if another process appended since. After a failed
// write the sink refuses every later event (the file's tail is then
// unknown) until it is reopened.
//
// The file's chain is keyed (MACKey.ForFile of the audit key), so a line
// removed, edited or added by someone without the key breaks it for good;
// and every line carries the store chain's head as this process last
// committed it (Entry.Anchor, fed by Chain.OnCommit), so the file is also
// an anchor for the store's chain (audit verify --anchor FILE).
type File struct {
	key    *MACKey
	anchor atomic.Pointer[Head]

	mu     sync.Mutex
	w      io.Writer
	f      *os.File  // the regular file to lock and sync, or nil
	closer io.Closer // a pipe or device to close, or nil
	head   Head
	end    int64 // a regular file's size after this sink's last write
	broken error
	failed atomic.Pointer[error] // broken, for Err without s.mu
	buf    bytes.Buffer
}

// OpenFile opens (or creates) the JSON-lines audit file at path; "-" means
// standard output, w, whose chain starts anew with each process. Its chain
// is keyed with key.ForFile() (unkeyed when key is nil).
func OpenFile(path string, stdout io.Writer, key *MACKey) (*File, error) {
	if path == "-" {
		return &File{key: key.ForFile(), w: stdout, head: EmptyHead}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("audit file %s: mode %04o is wider than 0600", path, st.Mode().Perm())
	}
	head, err := lastHead(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit file %s: %w", path, err)
	}
	s := &File{key: key.ForFile(), w: f, head: head, end: st.Size()}
	if st.Mode().IsRegular() {
		s.f = f // sync after each batch; pipes and devices cannot be synced
	} else {
		s.closer = f
	}
	return s, nil
}

// lastHead reads the chain head from the last line of f.
func lastHead(f *os.File, size int64) (Head, error) {
	if size == 0 {
		return EmptyHead, nil
	}
	const chunk = maxLine
	off := max(size-chunk, 0)
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return Head{}, err
	}
	if b[len(b)-1] != '\n' {
		return Head{}, errors.New("the last line is incomplete (a write was interrupted); move the file aside to start a new chain")
	}
	b = b[:len(b)-1]
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	} else if off > 0 {
		return Head{}, errors.New("the last line is longer than 1 MiB")
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.Seq <= 0 || len(e.Hash) != 64 {
		return Head{}, errors.New("the last line is not an audit entry")
	}
	return e.Head(), nil
}

// WriteBatch implements BatchWriter: it chains evs, writes them in one
// write and syncs the file.
func (s *File) WriteBatch(_ context.Context, evs []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if s.f != nil {
		unlock, err := s.lockAndResync()
		if err != nil {
			return err
		}
		defer unlock()
	}
	es, err := s.key.Link(s.head, evs, s.anchor.Load())
	if err != nil {
		return err
	}
	s.buf.Reset()
	for i := range es {
		if err := appendLine(&s.buf, es[i]); err != nil {
			return err
		}
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return s.setBroken(fmt.Errorf("audit file: write failed, refusing further events: %w", err))
	}
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			return s.setBroken(fmt.Errorf("audit file: sync failed, refusing further events: %w", err))
		}
	}
	s.head = es[len(es)-1].Head()
	s.end += int64(s.buf.Len())
	return nil
}

// lockAndResync takes the file's exclusive flock and, when the file is no
// longer the size this sink left it (another process appended), reads the
// chain's head again from its last line.
func (s *File) lockAndResync() (unlock func(), err error) {
	fd := int(s.f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("audit file: locking: %w", err)
	}
	unlock = func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }
	st, err := s.f.Stat()
	if err != nil {
		unlock()
		return nil, fmt.Errorf("audit file: %w", err)
	}
	if st.Size() != s.end {
		head, err := lastHead(s.f, st.Size())
		if err != nil {
			unlock()
			return nil, s.setBroken(fmt.Errorf("audit file: another writer left it unreadable, refusing further events: %w", err))
		}
		s.head, s.end = head, st.Size()
	}
	return unlock, nil
}

// NotifyHead records h as the store chain's head, to be carried by the
// next lines written (Entry.Anchor). Heads that go back are ignored. It
// never blocks on a write.
func (s *File) NotifyHead(h Head) {
	h.Generation = 0
	for {
		cur := s.anchor.Load()
		if cur != nil && cur.Seq >= h.Seq {
			return
		}
		if s.anchor.CompareAndSwap(cur, &h) {
			return
		}
	}
}

// Err returns the error that broke the sink, or nil while it works. It
// never waits for a write in progress (which may be stuck on a pipe).
func (s *File) Err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// setBroken records the error that broke the sink (s.mu held).
func (s *File) setBroken(err error) error {
	s.broken = err
	s.failed.Store(&err)
	return err
}

// Head returns the head of the file's chain.
func (s *File) Head() Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}

// Close closes the file (not standard output).
func (s *File) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// appendLine writes e as one JSON line.
func appendLine(b *bytes.Buffer, e Entry) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(e)
}

// MarshalLine returns e as one JSON line with its newline, the form of the
// audit file and of a Kafka record.
func MarshalLine(e Entry) ([]byte, error) {
	var b bytes.Buffer
	err := appendLine(&b, e)
	return b.Bytes(), err
}

// maxLine bounds one line of an audit file when reading it.
const maxLine = 1 << 20

// ReadEntries reads a JSON-lines audit stream and calls fn with each entry
// and its line number. A line that does not parse is returned as an Entry
// that cannot verify (seq 0), so the verifier names it as edited.
func ReadEntries(r io.Reader, fn func(line int64, e Entry) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var n int64
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			e = Entry{}
		}
		if !fn(n, e) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// VerifyFile verifies a JSON-lines audit stream written by a File under
// key (key.ForFile() is applied here; nil: an unkeyed file). Positions in
// its problem are line numbers. The result's Anchor is the highest store
// head the verified lines carry, for checking the store's chain
// (Verifier.Anchor).
func VerifyFile(r io.Reader, key *MACKey) (Result, error) {
	var keys []MACKey
	if fk := key.ForFile(); fk != nil {
		keys = []MACKey{*fk}
	}
	v := NewVerifier(nil, keys)
	var anchor *Head
	err := ReadEntries(r, func(line int64, e Entry) bool {
		v.pos = line - 1
		n := v.events
		ok := v.Add(e)
		if v.events > n && e.Anchor != nil && (anchor == nil || e.Anchor.Seq > anchor.Seq) {
			anchor = e.Anchor
		}
		return ok
	})
	res := v.Finish()
	if res.OK() {
		res.Anchor = anchor
	}
	return res, err
}
