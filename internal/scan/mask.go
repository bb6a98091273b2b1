package scan

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// MaskText is what a masked secret becomes.
const MaskText = "****"

// Masker replaces secrets with "****": known values in every encoded form
// and whatever the scanner's rules find. It ignores [AllowMarker]: the
// marker is for source code, and text passing through a masker must not be
// able to unmask itself.
type Masker struct {
	s       *Scanner
	workers int
}

// NewMasker returns a masker that uses s.
func NewMasker(s *Scanner) *Masker {
	return &Masker{s: s, workers: runtime.GOMAXPROCS(0)}
}

// MaskString returns s with every secret masked (s itself when none).
func (m *Masker) MaskString(s string) string {
	ms := m.s.find([]byte(s), false, false, nil)
	if len(ms) == 0 {
		return s
	}
	return string(appendMasked(nil, []byte(s), ms, 0, len(s)))
}

// Mask appends b, with every secret masked, to dst.
func (m *Masker) Mask(dst, b []byte) []byte {
	return appendMasked(dst, b, m.s.find(b, false, false, nil), 0, len(b))
}

// appendMasked appends b[from:to] to dst with the parts of ms inside it
// replaced: a secret that starts inside the region becomes "****", and
// the tail of one that started before it is dropped.
func appendMasked(dst, b []byte, ms []Match, from, to int) []byte {
	if need := len(dst) + to - from + 64; cap(dst) < need {
		d := make([]byte, len(dst), need+need/8)
		copy(d, dst)
		dst = d
	}
	pos := from
	for _, x := range ms {
		if x.End <= pos || x.Start >= to {
			continue
		}
		if x.Start >= pos {
			dst = append(dst, b[pos:x.Start]...)
			dst = append(dst, MaskText...)
		}
		pos = min(x.End, to)
	}
	return append(dst, b[pos:to]...)
}

// Stream settings.
const (
	streamBuf   = 4 << 20  // the longest line handled in one piece
	pieceCtx    = 16 << 10 // context carried into the next piece of a huge line
	parallelMin = 256 << 10
)

// Stream copies r to w with every secret masked. It works line by line in
// bounded memory, on unbounded streams: a reader cuts what is available at
// its last newline into segments (split across CPUs at line boundaries
// when large), workers mask them, and the writer writes them in order and
// flushes whenever no further segment is ready, so each line reaches w as
// soon as it is masked, without waiting for more input. Reading, masking
// and writing overlap. A line longer than the buffer is masked in
// overlapping pieces, so a secret at a cut is still found, and never
// written out in part.
func (m *Masker) Stream(r io.Reader, w io.Writer) error {
	type job struct {
		seq              int
		in               *inBuf
		buf              []byte
		from, to, scanTo int
	}
	type result struct {
		seq int
		out *[]byte
	}
	workers := max(1, m.workers)
	hold := max(pieceCtx, m.s.known.MaxLen()+1)
	jobs := make(chan job, 2*workers)
	results := make(chan result, 2*workers)
	sem := make(chan struct{}, 2*workers+1) // segments in flight: bounded memory
	done := make(chan struct{})             // closed when the writer fails
	var readErr error

	go func() {
		defer close(jobs)
		seq := 0
		send := func(j job) bool {
			select {
			case sem <- struct{}{}:
			case <-done:
				return false
			}
			j.seq = seq
			seq++
			select {
			case jobs <- j:
				return true
			case <-done:
				return false
			}
		}
		in := getInBuf()
		buf := in.b[:0]
		ctxLen := 0 // bytes at the start of buf already written (a huge line's context)
		for {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			eof := errors.Is(err, io.EOF)
			if err != nil && !eof {
				readErr = err
				return
			}
			cut := bytes.LastIndexByte(buf[ctxLen:], '\n') + 1
			if cut > 0 {
				cut += ctxLen
			}
			switch {
			case eof:
				cut = len(buf)
			case cut == 0 && len(buf) == cap(buf):
				// A huge line: mask all but the tail, keep context.
				end := len(buf) - hold
				in.refs.Add(1)
				if !send(job{in: in, buf: buf, from: ctxLen, to: end, scanTo: len(buf)}) {
					return
				}
				nin := getInBuf()
				buf = append(nin.b[:0], buf[end-pieceCtx:]...)
				in.release()
				in = nin
				ctxLen = pieceCtx
				continue
			case cut == 0:
				continue // an incomplete line: wait for the rest
			}
			if cut > ctxLen {
				if ctxLen > 0 || cut < parallelMin || workers < 2 {
					in.refs.Add(1)
					if !send(job{in: in, buf: buf, from: ctxLen, to: cut, scanTo: cut}) {
						return
					}
				} else {
					from := 0
					for i := 1; i <= workers; i++ {
						to := cut
						if i < workers {
							p := cut * i / workers
							nl := bytes.IndexByte(buf[p:cut], '\n')
							if nl < 0 {
								continue
							}
							to = p + nl + 1
						}
						if to <= from {
							continue
						}
						seg := buf[from:to]
						in.refs.Add(1)
						if !send(job{in: in, buf: seg, from: 0, to: len(seg), scanTo: len(seg)}) {
							return
						}
						from = to
					}
				}
			}
			if eof {
				in.release()
				return
			}
			nin := getInBuf()
			buf = append(nin.b[:0], buf[cut:]...)
			in.release()
			in = nin
			ctxLen = 0
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ms := m.s.find(j.buf[:j.scanTo], false, false, nil)
				out := outPool.Get().(*[]byte)
				*out = appendMasked((*out)[:0], j.buf, ms, j.from, j.to)
				j.in.release()
				results <- result{j.seq, out}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	bw := bufio.NewWriterSize(w, 256<<10)
	var werr error
	pending := map[int]*[]byte{}
	next := 0
	for {
		var res result
		var ok bool
		select {
		case res, ok = <-results:
		default:
			// Nothing ready: what was written so far goes out now.
			if werr == nil && bw.Buffered() > 0 {
				if werr = bw.Flush(); werr != nil {
					close(done)
				}
			}
			res, ok = <-results
		}
		if !ok {
			break
		}
		pending[res.seq] = res.out
		for {
			out, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-sem
			if werr == nil {
				if _, werr = bw.Write(*out); werr != nil {
					close(done)
				}
			}
			outPool.Put(out)
		}
	}
	if werr != nil {
		return werr
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return readErr
}

// inBuf is a read buffer shared by the segments cut from it; it goes back
// to the pool when the reader and every segment's worker have released it.
type inBuf struct {
	b    []byte
	refs atomic.Int32
}

var inPool = sync.Pool{New: func() any { return &inBuf{b: make([]byte, 0, streamBuf)} }}

// outPool holds the buffers masked segments are written to.
var outPool = sync.Pool{New: func() any { return new([]byte) }}

func getInBuf() *inBuf {
	in := inPool.Get().(*inBuf)
	in.refs.Store(1) // the reader's
	return in
}

func (in *inBuf) release() {
	if in.refs.Add(-1) == 0 {
		inPool.Put(in)
	}
}
