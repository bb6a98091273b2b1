package scan

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"
)

// MaskText is what a masked secret becomes.
const MaskText = "****"

// Masker replaces secrets with "****": known values in every encoded form
// and whatever the scanner's rules find.
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
	ms := m.s.Find([]byte(s), nil)
	if len(ms) == 0 {
		return s
	}
	return string(appendMasked(nil, []byte(s), ms, 0, len(s)))
}

// Mask appends b, with every secret masked, to dst.
func (m *Masker) Mask(dst, b []byte) []byte {
	return appendMasked(dst, b, m.s.Find(b, nil), 0, len(b))
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
// constant memory: whatever is available is masked up to its last newline
// and flushed at once, so each line reaches w as soon as it is complete;
// large batches are split across CPUs at line boundaries and written in
// order. A line longer than the buffer is masked in overlapping pieces, so
// a secret at a cut is still found, and never written out in part.
func (m *Masker) Stream(r io.Reader, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	hold := max(pieceCtx, m.s.known.MaxLen()+1)
	buf := make([]byte, 0, streamBuf)
	var out []byte
	outs := make([][]byte, max(1, m.workers)) // per-worker output, reused
	ctxLen := 0                               // bytes at the start of buf already written (a huge line's context)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return err
		}
		cut := bytes.LastIndexByte(buf[ctxLen:], '\n') + 1
		if cut > 0 {
			cut += ctxLen
		}
		switch {
		case eof:
			cut = len(buf)
		case cut == 0 && len(buf) == cap(buf):
			// A huge line: write all but the tail, keep context.
			ms := m.s.Find(buf, nil)
			end := len(buf) - hold
			out = appendMasked(out[:0], buf, ms, ctxLen, end)
			if _, err := bw.Write(out); err != nil {
				return err
			}
			keep := copy(buf, buf[end-pieceCtx:])
			buf = buf[:keep]
			ctxLen = pieceCtx
			continue
		case cut == 0:
			if n == 0 && err == nil {
				continue
			}
			if bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
			continue
		}
		if cut > 0 {
			if err := m.maskLines(bw, outs, buf, ctxLen, cut); err != nil {
				return err
			}
			rest := copy(buf, buf[cut:])
			buf = buf[:rest]
			ctxLen = 0
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if eof {
			return nil
		}
	}
}

// maskLines masks buf[from:to], whole lines, and writes it to w: split
// across workers at line boundaries when large, written in order; buf
// before from is context already written. outs holds each worker's
// output buffer, reused from batch to batch.
func (m *Masker) maskLines(w io.Writer, outs [][]byte, buf []byte, from, to int) error {
	if to-from < parallelMin || len(outs) < 2 || from > 0 {
		outs[0] = appendMasked(outs[0][:0], buf, m.s.Find(buf[:to], nil), from, to)
		_, err := w.Write(outs[0])
		return err
	}
	bounds := []int{from}
	for i := 1; i < len(outs); i++ {
		p := from + (to-from)*i/len(outs)
		nl := bytes.IndexByte(buf[p:to], '\n')
		if nl < 0 {
			break
		}
		if p+nl+1 > bounds[len(bounds)-1] && p+nl+1 < to {
			bounds = append(bounds, p+nl+1)
		}
	}
	bounds = append(bounds, to)
	var wg sync.WaitGroup
	for i := 0; i+1 < len(bounds); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seg := buf[bounds[i]:bounds[i+1]]
			outs[i] = appendMasked(outs[i][:0], seg, m.s.Find(seg, nil), 0, len(seg))
		}()
	}
	wg.Wait()
	for i := 0; i+1 < len(bounds); i++ {
		if _, err := w.Write(outs[i]); err != nil {
			return err
		}
	}
	return nil
}
