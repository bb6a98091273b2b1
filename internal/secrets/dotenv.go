package secrets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// MaxDotenvLine bounds one logical line of a dotenv file.
const MaxDotenvLine = MaxValueSize + 4096

// ParseDotenv reads KEY=VALUE lines: blank lines and lines starting with
// '#' are skipped, "export " before a key is allowed, and a value is
//   - unquoted: up to a " #" comment, surrounding blanks trimmed;
//   - 'single-quoted': literal, may span lines;
//   - "double-quoted": may span lines, with \n \r \t \" \\ \$ \' \` escapes
//     (any other backslash is kept).
//
// Keys are letters, digits and '_', not starting with a digit. A key that
// appears twice keeps its last value. Errors name the line, never a value.
func ParseDotenv(r io.Reader) ([]Entry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Entry
	index := map[string]int{}
	lineNo := 0
	readLine := func() (string, bool, error) {
		var buf []byte
		for {
			part, err := br.ReadSlice('\n')
			buf = append(buf, part...)
			if len(buf) > MaxDotenvLine {
				return "", false, fmt.Errorf("line %d: longer than %d bytes", lineNo+1, MaxDotenvLine)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF && len(buf) == 0 {
				return "", false, nil
			}
			if err != nil && err != io.EOF {
				return "", false, err
			}
			lineNo++
			if bytes.IndexByte(buf, 0) >= 0 {
				// no environment variable can hold one, and no text file does
				return "", false, fmt.Errorf("line %d: contains a NUL byte", lineNo)
			}
			return string(buf), true, nil
		}
	}
	first := true
	for {
		line, ok, err := readLine()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if first {
			line = strings.TrimPrefix(line, "\ufeff")
			first = false
		}
		start := lineNo
		line = strings.TrimRight(line, "\r\n")
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		if rest, found := strings.CutPrefix(t, "export"); found && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			t = strings.TrimLeft(rest, " \t")
		}
		eq := strings.IndexByte(t, '=')
		if eq < 0 {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", start)
		}
		key := strings.TrimRight(t[:eq], " \t")
		if !ValidEnvName(key) {
			return nil, fmt.Errorf("line %d: key is not a valid variable name (letters, digits, '_', not starting with a digit)", start)
		}
		v := strings.TrimLeft(t[eq+1:], " \t")
		var val string
		switch {
		case v != "" && (v[0] == '\'' || v[0] == '"'):
			q := v[0]
			body := v[1:]
			var b bytes.Buffer
			for {
				end, closed, err := scanQuoted(body, q, &b)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", lineNo, err)
				}
				if closed {
					tail := strings.TrimLeft(body[end:], " \t")
					if tail != "" && tail[0] != '#' {
						return nil, fmt.Errorf("line %d: text after the closing quote", lineNo)
					}
					break
				}
				more, ok, err := readLine()
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, fmt.Errorf("line %d: quoted value is never closed", start)
				}
				b.WriteByte('\n')
				if b.Len() > MaxDotenvLine {
					return nil, fmt.Errorf("line %d: quoted value longer than %d bytes", start, MaxDotenvLine)
				}
				body = strings.TrimRight(more, "\r\n")
			}
			val = b.String()
		default:
			// an inline comment: the first '#' after a blank
			for i := 1; i < len(v); i++ {
				if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
					v = v[:i]
					break
				}
			}
			val = strings.TrimRight(v, " \t")
		}
		e := Entry{Name: key, Value: sensitive.New(val), Line: start}
		if i, dup := index[key]; dup {
			out[i] = e
			continue
		}
		index[key] = len(out)
		out = append(out, e)
	}
	return out, nil
}

// scanQuoted appends the quoted text of s to b until the closing quote q.
// It returns the offset just past the closing quote and whether it found
// one; a backslash at the end of s is an error.
func scanQuoted(s string, q byte, b *bytes.Buffer) (int, bool, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return i + 1, true, nil
		case c == '\\' && q == '"':
			if i+1 >= len(s) {
				return 0, false, fmt.Errorf("backslash at the end of a line in a double-quoted value")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\', '$', '\'', '`':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return len(s), false, nil
}

// QuoteDotenv returns v double-quoted for a dotenv file, so that
// ParseDotenv reads back exactly v.
func QuoteDotenv(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"', '\\', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// QuoteShell returns v single-quoted for a POSIX shell.
func QuoteShell(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
