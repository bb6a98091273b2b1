package scan

import (
	"bytes"
	"errors"
	"io"
)

// ChunkSize is the size of the units a stream is cut into.
const ChunkSize = 1 << 20

// maxCarry bounds how much of a line without a newline is held back: a
// longer line is cut at a delimiter (space, comma, ...) in its last
// maxCarry bytes (',', ';', '&', '|', '}' or ']'), so that a token is
// never split; a name and its value split by such a cut can be missed.
const maxCarry = 64 << 10

// Chunks cuts r into units of about size bytes that end on line
// boundaries, numbering lines from 1, and sends them. It returns
// errStopped when send refuses a unit.
func Chunks(r io.Reader, path string, size int, send func(Unit) bool) error {
	return chunks(r, path, size, false, send)
}

func chunks(r io.Reader, path string, size int, code bool, send func(Unit) bool) error {
	if size <= 0 {
		size = ChunkSize
	}
	if size <= maxCarry {
		size = 2 * maxCarry
	}
	buf := make([]byte, 0, size)
	var lead []byte
	line, col := 1, 0
	eof := false
	for {
		if !eof && len(buf) < size {
			n, err := io.ReadFull(r, buf[len(buf):size])
			buf = buf[:len(buf)+n]
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					return err
				}
				eof = true
			}
		}
		if len(buf) == 0 {
			return nil
		}
		cut := len(buf)
		if !eof {
			if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
				cut = i + 1
				// A PEM key cut in two would be missed by both units:
				// cut before its BEGIN line instead.
				if h := pemOpenAt(buf, 0, cut); h > 0 {
					cut = h
				}
			} else {
				cut = cutInLine(buf)
			}
		}
		data := make([]byte, len(lead)+cut)
		copy(data, lead)
		copy(data[len(lead):], buf[:cut])
		if !send(Unit{Path: path, Data: data, Lead: len(lead), FirstLine: line, ColOffset: col, Code: code}) {
			return errStopped
		}
		data = data[len(lead):]
		// The next unit's lead: the last lines of this one.
		lead = lead[:0]
		if data[len(data)-1] == '\n' {
			ls := max(0, len(data)-unitLead)
			if nl := bytes.IndexByte(data[ls:], '\n'); nl >= 0 && ls > 0 {
				ls += nl + 1
			}
			lead = append(lead, data[ls:]...)
		}
		nl := bytes.Count(data, []byte{'\n'})
		line += nl
		if nl > 0 {
			col = len(data) - (bytes.LastIndexByte(data, '\n') + 1)
		} else {
			col += len(data)
		}
		rest := copy(buf, buf[cut:])
		buf = buf[:rest]
	}
}

var errStopped = errors.New("scan: stopped")

// unitLead is how much of the end of a unit the next one carries as its
// lead (see [Unit]).
const unitLead = 8 << 10

// cutInLine picks where to cut a long line: after the last delimiter in
// its final maxCarry bytes, or at the end when there is none.
func cutInLine(b []byte) int {
	lo := len(b) - maxCarry
	for i := len(b) - 1; i > lo; i-- {
		if c := b[i]; c == '\n' || c == ',' || c == ';' || c == '&' || c == '|' || c == '}' || c == ']' {
			return i + 1
		}
	}
	return len(b)
}
