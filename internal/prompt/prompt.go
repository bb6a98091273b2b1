// Package prompt reads a value typed at a terminal without echoing it.
//
// The echo is turned off before the prompt is written, so that nothing a
// person types after seeing the prompt can reach the screen: reading with
// the prompt written first (as golang.org/x/term's ReadPassword is used)
// leaves a moment in which the prompt is visible and echo is still on.
package prompt

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLong is returned for a line longer than the limit given to Hidden.
var ErrTooLong = errors.New("the typed value is too long")

// Hidden turns off echo on the terminal tty, writes prompt to w, reads one
// line of at most limit bytes (without its line end) and restores the
// terminal, then ends the prompt's line on w. tty must be a terminal.
func Hidden(tty *os.File, w io.Writer, prompt string, limit int) ([]byte, error) {
	restore, err := echoOff(tty)
	if err != nil {
		return nil, fmt.Errorf("turning off the terminal's echo: %w", err)
	}
	_, _ = io.WriteString(w, prompt)
	line, err := readLine(tty, limit)
	restore()
	_, _ = io.WriteString(w, "\n")
	return line, err
}

// readLine reads up to a newline, one byte at a time so that nothing after
// it is consumed, and drops a carriage return before it.
func readLine(r io.Reader, limit int) ([]byte, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(line) == limit {
				clear(line)
				return nil, ErrTooLong
			}
			line = append(line, b[0])
			continue
		}
		if err == io.EOF && len(line) > 0 {
			break
		}
		if err != nil {
			clear(line)
			return nil, err
		}
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}
