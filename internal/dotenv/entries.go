package dotenv

import (
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// MaxLine bounds one logical line that Entries accepts: a value of 64 KiB
// (the largest secret) quoted, with its name.
const MaxLine = 64<<10 + 4096

// Entry is one variable a file assigns.
type Entry struct {
	Name  string
	Value sensitive.String
	Line  int // the line of the file it came from, or 0
}

// Entries returns every variable the file assigns, in the order of their
// first assignment, each with its last value (as every loader reads it).
// It is strict, for import: a line that is neither blank, a comment nor an
// assignment to a portable name (ValidName) is an error naming the line,
// never its text.
func (e *File) Entries() ([]Entry, error) {
	var out []Entry
	index := map[string]int{}
	for _, l := range e.lines {
		switch {
		case len(l.text) > MaxLine:
			return nil, &FileError{Path: e.path, Line: l.no, Reason: fmt.Sprintf("longer than %d bytes", MaxLine)}
		case l.bad != "":
			return nil, &FileError{Path: e.path, Line: l.no, Reason: l.bad}
		case l.name == "":
			continue
		case !ValidName(l.name):
			return nil, &FileError{Path: e.path, Line: l.no, Reason: "the name is not a valid variable name (letters, digits, '_', not starting with a digit)"}
		}
		en := Entry{Name: l.name, Value: sensitive.New(l.value), Line: l.no}
		if i, dup := index[l.name]; dup {
			out[i] = en
			continue
		}
		index[l.name] = len(out)
		out = append(out, en)
	}
	return out, nil
}

// ValidName reports whether s is a portable environment variable name:
// letters, digits and '_', not starting with a digit.
func ValidName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Quote returns v double-quoted so that Parse reads back exactly v, and a
// POSIX shell that sources the line expands and runs nothing: '\\', '"',
// '$' and '`' are escaped, and line breaks and tabs written as \n \r \t.
func Quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"', '\\', '$', '`':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// QuoteShell returns v single-quoted for a POSIX shell, which takes it
// literally.
func QuoteShell(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
