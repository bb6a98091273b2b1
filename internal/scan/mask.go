package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// MaskText is what a masked secret becomes.
const MaskText = "****"

// Masker replaces secrets with "****": known values in every encoded form
// and whatever the scanner's rules find, with the same rules as the
// scanner. It ignores [AllowMarker]: the marker is for source code, and
// text passing through a masker must not be able to unmask itself. Where
// candidates overlap it masks all of them. A value that spans lines (a PEM
// key, a multi-line managed secret) is masked line by line: every line of
// it becomes "****" and the line count does not change.
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
	ms := m.s.find([]byte(s), false, false, true, nil)
	if len(ms) == 0 {
		return s
	}
	return string(appendMasked(nil, []byte(s), ms, 0, len(s)))
}

// Mask appends b, with every secret masked, to dst.
func (m *Masker) Mask(dst, b []byte) []byte {
	return appendMasked(dst, b, m.s.find(b, false, false, true, nil), 0, len(b))
}

// appendMasked appends b[from:to] to dst with the secrets of ms (sorted,
// not overlapping) inside it masked. The result for a region is what the
// masking of all of b writes for it, so regions cut anywhere give, end to
// end, the same bytes as one call for the whole.
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
		s := max(x.Start, pos)
		dst = append(dst, b[pos:s]...)
		e := min(x.End, to)
		dst = appendMaskedSpan(dst, b, x.Start, s, e)
		pos = e
	}
	return append(dst, b[pos:to]...)
}

// appendMaskedSpan writes the part [s, e) of the secret that starts at
// start: each line of the secret becomes "****" (written by the part
// where that line starts), and its line ends stay.
func appendMaskedSpan(dst, b []byte, start, s, e int) []byte {
	for i := s; i < e; {
		j := i
		for j < e && b[j] != '\n' {
			j++
		}
		k := j
		if k > i && b[k-1] == '\r' && k < len(b) && b[k] == '\n' {
			k--
		}
		if (i == start || b[i-1] == '\n') && k > i {
			dst = append(dst, MaskText...)
		}
		dst = append(dst, b[k:j]...)
		if j < e {
			dst = append(dst, '\n')
			j++
		}
		i = j
	}
	return dst
}

// reach is how far around a region the masker must look so that a secret
// crossing the region's edge is found as it is in the whole: the longest
// multi-line value (a PEM block, a managed value) and the look-behind of
// rules that read the line before (a YAML env entry, a statement's
// parameters).
func (s *Scanner) reach() int {
	return max(pemReach+4<<10, s.known.MaxLen()+1)
}

// openFrom returns where, in b[from:cut] (cut just after a newline), a
// value that may continue on the next lines begins: a PEM private key
// whose END line has not come yet, or the first lines of a multi-line
// known value. A stream holds that part back until the value is complete
// (at most one value's length). It returns cut when nothing is open.
func (s *Scanner) openFrom(b []byte, from, cut int) int {
	return min(s.known.openPrefix(b, from, cut), pemOpenAt(b, from, cut))
}

// pemOpenAt returns the start of the line of a PEM private key's BEGIN in
// b[from:cut] whose block is still open at cut (no END line yet, and every
// line since body), or cut.
func pemOpenAt(b []byte, from, cut int) int {
	hold := cut
	lo := max(from, cut-pemReach)
	if i := bytes.LastIndex(b[lo:cut], []byte("-----BEGIN")); i >= 0 {
		i += lo
		ls := bytes.LastIndexByte(b[:i], '\n') + 1
		le := i + bytes.IndexByte(b[i:cut], '\n')
		if ls >= from && le > i {
			if k := indexFold(b[i:le], "private key"); k >= 0 {
				if m := bytes.Index(b[i+k:le], []byte("-----")); m >= 0 {
					if _, _, st := pemBodyState(b[:cut], i+k+m+5); st == pemOpen {
						hold = min(hold, ls)
					}
				}
			}
		}
	}
	return hold
}

// Stream settings.
const (
	streamBuf   = 4 << 20 // the longest line handled in one piece
	parallelMin = 256 << 10
)

// errInterrupted ends a stream whose context was cancelled.
var errInterrupted = errors.New("scan: interrupted")

// Stream copies r to w with every secret masked; see StreamContext.
func (m *Masker) Stream(r io.Reader, w io.Writer) error {
	return m.StreamContext(context.Background(), r, w)
}

// StreamContext copies r to w with every secret masked. It works line by
// line in bounded memory, on unbounded streams: a reader cuts what is
// available at its last newline into segments (split across CPUs at line
// boundaries when large), workers mask them, and the writer writes them in
// order and flushes whenever no further segment is ready, so each line
// reaches w as soon as it is masked, without waiting for more input.
//
// Every segment is scanned with the text around it (see reach): the end
// of what was already written before it, and the start of the next
// segment, so that a value crossing a cut (a PEM key written line by line,
// a two-line value across the split between workers, the line that names
// a value on the next) is found as in the whole. A value that may continue
// past what has been read (an unterminated PEM block, the first lines of a
// multi-line known value) is held back until it is complete. A line longer
// than the buffer is masked in pieces that overlap by reach and hold as
// much back, so a secret at a cut is found and never written out in part.
//
// When ctx ends (SIGINT or SIGTERM in the CLI), StreamContext stops
// reading, masks and writes what it holds as if the input had ended there,
// and returns nil. A read error also ends the stream that way, and is
// returned.
func (m *Masker) StreamContext(ctx context.Context, r io.Reader, w io.Writer) error {
	type job struct {
		seq              int
		in               *inBuf
		buf              []byte
		from, to         int
		scanFrom, scanTo int
	}
	type result struct {
		seq int
		out *[]byte
	}
	workers := max(1, m.workers)
	reach := m.s.reach()
	bufSize := max(streamBuf, 4*reach)
	jobs := make(chan job, 2*workers)
	results := make(chan result, 2*workers)
	sem := make(chan struct{}, 2*workers+1) // segments in flight: bounded memory
	done := make(chan struct{})             // closed when the writer fails
	var readErr error
	if ctx.Done() != nil {
		r = newCtxReader(ctx, r)
	}

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
		// sendRange masks buf[from:to], split across workers at line
		// boundaries when large; the last cut of a huge line is not at a
		// line boundary, and looks at everything up to scanTo.
		sendRange := func(in *inBuf, buf []byte, from, to, scanTo int) bool {
			lineCut := buf[to-1] == '\n'
			if !lineCut {
				in.refs.Add(1)
				return send(job{in: in, buf: buf, from: from, to: to, scanFrom: m.s.lookBehind(buf, from, reach), scanTo: scanTo})
			}
			start := from
			for i := 1; i <= workers; i++ {
				end := to
				if i < workers {
					if to-from < parallelMin {
						continue
					}
					p := from + (to-from)*i/workers
					nl := bytes.IndexByte(buf[p:to], '\n')
					if nl < 0 {
						continue
					}
					end = p + nl + 1
					// Never between the lines of one value: a PEM key or
					// a multi-line managed value goes whole to one worker.
					if h := m.s.openFrom(buf, start, end); h < end {
						if h <= start {
							continue
						}
						end = h
					}
				}
				if end <= start {
					continue
				}
				in.refs.Add(1)
				if !send(job{in: in, buf: buf, from: start, to: end, scanFrom: m.s.lookBehind(buf, start, reach), scanTo: end}) {
					return false
				}
				start = end
			}
			return true
		}
		in := getInBuf(bufSize)
		buf := in.b[:0]
		ctxLen := 0 // bytes at the start of buf already written: context only
		for {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			final := err != nil
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errInterrupted) {
				readErr = err
			}
			cut := ctxLen + bytes.LastIndexByte(buf[ctxLen:], '\n') + 1
			hold := cut
			switch {
			case final:
				cut, hold = len(buf), len(buf)
			case cut > ctxLen:
				hold = m.s.openFrom(buf, ctxLen, cut)
			}
			if hold == ctxLen && !final && len(buf) == cap(buf) {
				// A huge line, or a held value grown to the buffer: mask
				// all but the last reach bytes, and carry as much context.
				hold = len(buf) - reach
				cut = len(buf)
			}
			if hold > ctxLen {
				if !sendRange(in, buf, ctxLen, hold, cut) {
					in.release()
					return
				}
				keep := max(0, hold-reach)
				nin := getInBuf(bufSize)
				nb := append(nin.b[:0], buf[keep:]...)
				in.release()
				in, buf, ctxLen = nin, nb, hold-keep
			}
			if final {
				in.release()
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ms := m.s.find(j.buf[j.scanFrom:j.scanTo], false, false, true, nil)
				for i := range ms {
					ms[i].Start += j.scanFrom
					ms[i].End += j.scanFrom
				}
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

// lookBehind is where to start scanning for a region of b that starts at
// from. At a line start, two lines back (at most lookBehindMax bytes): the
// rules that read the line before a value need no more, as no value that
// spans lines is ever cut (see openFrom). Inside a huge line, reach bytes
// back: the context the previous piece held.
func (s *Scanner) lookBehind(b []byte, from, reach int) int {
	if from == 0 {
		return 0
	}
	if b[from-1] != '\n' {
		return max(0, from-reach)
	}
	lo := max(0, from-lookBehindMax)
	p := from - 1
	for range 2 {
		i := bytes.LastIndexByte(b[lo:p], '\n')
		if i < 0 {
			return lo
		}
		p = lo + i
	}
	return p + 1
}

// lookBehindMax bounds lookBehind: a statement before its parameters.
const lookBehindMax = 4<<10 + 512

// inBuf is a read buffer shared by the segments cut from it; it goes back
// to the pool when the reader and every segment's worker have released it.
type inBuf struct {
	b    []byte
	refs atomic.Int32
}

var inPool sync.Pool

// outPool holds the buffers masked segments are written to.
var outPool = sync.Pool{New: func() any { return new([]byte) }}

func getInBuf(size int) *inBuf {
	in, _ := inPool.Get().(*inBuf)
	if in == nil || cap(in.b) < size {
		in = &inBuf{b: make([]byte, 0, size)}
	}
	in.refs.Store(1) // the reader's
	return in
}

func (in *inBuf) release() {
	if in.refs.Add(-1) == 0 {
		inPool.Put(in)
	}
}

// ctxReader reads r in a goroutine of its own, so that a Read blocked on
// a quiet pipe can end when ctx does (the goroutine stays blocked until r
// returns; a process that exits does not wait for it).
type ctxReader struct {
	ctx     context.Context
	chunks  chan ctxChunk
	free    chan []byte
	pending []byte
	buf     []byte // the buffer pending is in, returned to free when used up
	err     error
}

type ctxChunk struct {
	b   []byte
	err error
}

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	c := &ctxReader{ctx: ctx, chunks: make(chan ctxChunk), free: make(chan []byte, 2)}
	c.free <- make([]byte, 1<<20)
	c.free <- make([]byte, 1<<20)
	go func() {
		for {
			var b []byte
			select {
			case b = <-c.free:
			case <-ctx.Done():
				return
			}
			n, err := r.Read(b)
			select {
			case c.chunks <- ctxChunk{b[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

func (c *ctxReader) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if c.buf != nil {
			c.free <- c.buf[:cap(c.buf)]
			c.buf = nil
		}
		if c.err != nil {
			return 0, c.err
		}
		// A cancelled context wins over data already waiting, so that a
		// signal ends the stream promptly on a busy pipe too.
		select {
		case <-c.ctx.Done():
			c.err = errInterrupted
			return 0, c.err
		default:
		}
		select {
		case ch := <-c.chunks:
			c.buf, c.pending, c.err = ch.b, ch.b, ch.err
		case <-c.ctx.Done():
			c.err = errInterrupted
			return 0, c.err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}
