// Package dotenv reads and edits .env files, the one implementation of
// the format in sa01-secrets: import reads secrets from one (Entries),
// export writes values it reads back exactly (Quote, QuoteShell), and key
// rotation rewrites the keys in one keeping every other byte (Set, Write).
//
// The syntax is the common one of docker compose and python-dotenv:
//
//	# comment
//	NAME=value            # inline comment after whitespace
//	export NAME='single quoted, no escapes'
//	NAME="double quoted, \" \\ \n \r \t \$ \' \` escapes, may span lines"
//
// An unquoted value ends at the first '#' that follows a blank, and its
// surrounding blanks are trimmed. A line break inside quotes is "\n" in the
// value whether the file ends its lines with \n or \r\n.
package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/safefile"
)

// MaxFileSize bounds the env files Read accepts.
const MaxFileSize = 4 << 20

// File is a parsed .env file that can be edited and written back with
// every line it does not touch kept byte for byte: comments, blank lines,
// export prefixes, quoting, line endings, and lines it cannot parse.
//
// The syntax is the common one of docker compose and python-dotenv:
//
//	# comment
//	NAME=value            # inline comment after whitespace
//	export NAME='single quoted, no escapes'
//	NAME="double quoted, \" \\ \n escapes, may span lines"
type File struct {
	path  string // absolute, symlinks resolved
	raw   []byte // the bytes parsed, to detect a concurrent change
	mode  fs.FileMode
	lines []line
}

// line is one logical line (a quoted value may span several physical
// lines). text holds it with its line ending; name is "" for lines that
// assign nothing.
type line struct {
	no     int    // the number of its first physical line
	bad    string // why it is neither blank, a comment nor an assignment ("" when it is one)
	text   string
	name   string
	value  string
	export bool
	quote  byte   // 0, '\'' or '"'
	suffix string // what follows the value: inline comment and line ending
}

// FileError reports a problem with an env file. It names the file and
// the line, never a value.
type FileError struct {
	Path   string
	Line   int // 0 when not about one line
	Reason string
	Err    error
}

func (e *FileError) Error() string {
	if e.Path == "" && e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	if e.Line > 0 {
		return fmt.Sprintf("env file %s: line %d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("env file %s: %s", e.Path, e.Reason)
}

func (e *FileError) Unwrap() error { return e.Err }

// Read reads and parses path. A missing or unreadable file, one over
// [MaxFileSize], or one that is not text, is an *FileError.
func Read(path string) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &FileError{Path: path, Reason: "bad path", Err: err}
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open(abs)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &FileError{Path: path, Reason: "does not exist", Err: err}
		case errors.Is(err, fs.ErrPermission):
			return nil, &FileError{Path: path, Reason: "cannot be read (permission denied)", Err: err}
		}
		return nil, &FileError{Path: path, Reason: "cannot be opened", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &FileError{Path: path, Reason: "cannot be read", Err: err}
	}
	if !st.Mode().IsRegular() {
		return nil, &FileError{Path: path, Reason: "is not a regular file"}
	}
	if st.Size() > MaxFileSize {
		return nil, &FileError{Path: path, Reason: fmt.Sprintf("larger than %d MiB", MaxFileSize>>20)}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &FileError{Path: path, Reason: "cannot be read", Err: err}
	}
	if len(b) > MaxFileSize {
		return nil, &FileError{Path: path, Reason: fmt.Sprintf("larger than %d MiB", MaxFileSize>>20)}
	}
	ef, err := Parse(b)
	if err != nil {
		var pe *FileError
		if errors.As(err, &pe) {
			pe.Path = path
		}
		return nil, err
	}
	ef.path = abs
	ef.mode = st.Mode().Perm()
	return ef, nil
}

// ParseEnv parses the contents of an env file. It fails only on input that
// holds a NUL byte or has an unterminated quoted value; lines it does not understand are kept as they
// are and assign nothing.
func Parse(b []byte) (*File, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		// no environment variable can hold one, and no text file does
		return nil, &FileError{Line: 1 + bytes.Count(b[:i], []byte("\n")), Reason: "contains a NUL byte; not an env file"}
	}
	ef := &File{raw: append([]byte(nil), b...), mode: 0o600}
	s := string(b)
	lineNo := 1
	// A byte order mark (editors on Windows write one) is not part of the
	// first name; it stays in the line's text, so that the file is
	// written back as it was.
	bom := ""
	if rest, ok := strings.CutPrefix(s, "\ufeff"); ok {
		bom, s = "\ufeff", rest
	}
	for len(s) > 0 {
		l, rest, used, err := parseLine(s)
		l.text, bom = bom+l.text, ""
		if err != nil {
			return nil, &FileError{Line: lineNo, Reason: err.Error()}
		}
		l.no = lineNo
		lineNo += used
		ef.lines = append(ef.lines, l)
		s = rest
	}
	return ef, nil
}

// physLine splits s after its first line ending (\n, \r\n).
func physLine(s string) (line, rest string) {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i+1], s[i+1:]
	}
	return s, ""
}

func isNameStart(c byte) bool { return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
func isNameByte(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' || c == '.' }

// parseLine parses one logical line at the start of s. used counts the
// physical lines consumed.
func parseLine(s string) (l line, rest string, used int, err error) {
	first, after := physLine(s)
	l.text, rest, used = first, after, 1
	p := strings.TrimLeft(first, " \t")
	if strings.HasPrefix(p, "export ") || strings.HasPrefix(p, "export\t") {
		l.export = true
		p = strings.TrimLeft(p[len("export"):], " \t")
	}
	if p == "" || !isNameStart(p[0]) {
		l := line{text: first} // blank, comment or unknown: kept as is
		if t := strings.TrimSpace(p); l.export || t != "" && t[0] != '#' {
			l.bad = "want NAME=VALUE"
		}
		return l, after, 1, nil
	}
	i := 1
	for i < len(p) && isNameByte(p[i]) {
		i++
	}
	name := p[:i]
	p = strings.TrimLeft(p[i:], " \t")
	if !strings.HasPrefix(p, "=") {
		return line{text: first, bad: "want NAME=VALUE (a name of letters, digits and '_')"}, after, 1, nil
	}
	p = strings.TrimLeft(p[1:], " \t")
	l.name = name
	// p is the value part of the first physical line, with its ending.
	prefixLen := len(first) - len(p)
	switch {
	case strings.HasPrefix(p, "'") || strings.HasPrefix(p, "\""):
		q := p[0]
		l.quote = q
		// The value may run over several physical lines.
		whole := s[prefixLen+1:]
		val, n, ok, eol := scanQuoted(whole, q)
		if !ok {
			return line{}, "", 0, fmt.Errorf("%s: unterminated %c-quoted value", name, q)
		}
		if eol {
			l.bad = "backslash at the end of a line in a double-quoted value"
		}
		l.value = val
		end := prefixLen + 1 + n // just after the closing quote
		tail, rest2 := physLine(s[end:])
		if t := strings.TrimLeft(tail, " \t\r\n"); t != "" && t[0] != '#' {
			l.bad = "text after the closing quote"
		}
		l.suffix = tail
		l.text = s[:end] + tail
		rest = rest2
		used = strings.Count(l.text, "\n")
		if !strings.HasSuffix(l.text, "\n") {
			used++
		}
	default:
		body := p
		ending := ""
		switch {
		case strings.HasSuffix(body, "\r\n"):
			body, ending = body[:len(body)-2], "\r\n"
		case strings.HasSuffix(body, "\n"):
			body, ending = body[:len(body)-1], "\n"
		}
		// Carriage returns before the line ending (or at the end of the
		// file) are part of the ending, as they are to import.
		core := strings.TrimRight(body, "\r")
		body, ending = core, body[len(core):]+ending
		comment := ""
		// An inline comment needs a blank before its '#': "A=#x" is
		// the value "#x" (python-dotenv and docker compose agree).
		for j := 1; j < len(body); j++ {
			if body[j] == '#' && (body[j-1] == ' ' || body[j-1] == '\t') {
				comment = body[j:]
				body = body[:j]
				break
			}
		}
		trimmed := strings.TrimRight(body, " \t")
		l.value = trimmed
		l.suffix = body[len(trimmed):] + comment + ending
	}
	return l, rest, used, nil
}

// crBeforeLF reports whether s starts with carriage returns then a \n.
func crBeforeLF(s string) bool {
	rest := strings.TrimLeft(s, "\r")
	return rest != "" && rest[0] == '\n'
}

// scanQuoted reads a value after its opening quote q up to the closing
// quote. It returns the value, the bytes consumed including the closing
// quote, and false when there is no closing quote. A line break inside the
// quotes is "\n" in the value, whether the file ends its lines with \n or
// \r\n. The escapes of double quotes are those of secrets.ParseDotenv
// (import): \n \r \t \" \\ \$ \' \`; any other backslash is kept.
//
// eol reports a backslash just before a line break in double quotes,
// which loaders disagree on: it is kept in the value, and Entries refuses
// the line.
func scanQuoted(s string, q byte) (val string, n int, ok, eol bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, true, eol
		case c == '\r' && crBeforeLF(s[i:]):
			// the \n is written when the loop reaches it
		case q == '"' && c == '\\' && i+1 < len(s):
			eol = eol || s[i+1] == '\n' || crBeforeLF(s[i+1:])
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
	return "", 0, false, eol
}

// Path returns the absolute path of the file (symlinks resolved), or "" for
// an File from ParseEnv.
func (e *File) Path() string { return e.path }

// Lookup returns the value of the last assignment to name, and whether
// there is one.
func (e *File) Lookup(name string) (string, bool) {
	for i := len(e.lines) - 1; i >= 0; i-- {
		if e.lines[i].name == name {
			return e.lines[i].value, true
		}
	}
	return "", false
}

// Count returns how many lines assign name.
func (e *File) Count(name string) int {
	n := 0
	for _, l := range e.lines {
		if l.name == name {
			n++
		}
	}
	return n
}

// Getenv returns a getenv function that answers from the file first, then
// from fallback (which may be nil).
func (e *File) Getenv(fallback func(string) string) func(string) string {
	return func(name string) string {
		if v, ok := e.Lookup(name); ok {
			return v
		}
		if fallback != nil {
			return fallback(name)
		}
		return ""
	}
}

// Set assigns value to name: the last line that assigns name is rewritten
// in place, keeping its export prefix, its quoting and its inline comment;
// earlier assignments of name are left alone (the last one wins in every
// loader). A name not in the file is appended. Set refuses a value that a
// loader could not read back unchanged (a newline, or both quote kinds).
func (e *File) Set(name, value string) error {
	if name == "" || !isNameStart(name[0]) {
		return fmt.Errorf("env file: bad variable name %q", name)
	}
	for i := 1; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Errorf("env file: bad variable name %q", name)
		}
	}
	if strings.ContainsAny(value, "\n\r\x00") {
		return fmt.Errorf("env file: %s: value holds a line break", name)
	}
	for i := len(e.lines) - 1; i >= 0; i-- {
		l := &e.lines[i]
		if l.name != name {
			continue
		}
		q := l.quote
		if q == 0 && needsQuote(value) {
			q = '"'
		}
		if q == '\'' && strings.ContainsRune(value, '\'') {
			q = '"'
		}
		lead := l.text[:len(l.text)-len(l.suffix)-len(l.rawValuePart())]
		l.value, l.quote = value, q
		l.text = lead + quoteValue(value, q) + l.suffix
		return nil
	}
	ending := "\n"
	for _, l := range e.lines {
		if strings.HasSuffix(l.text, "\n") {
			if strings.HasSuffix(l.text, "\r\n") {
				ending = "\r\n"
			}
			break
		}
	}
	if n := len(e.lines); n > 0 {
		last := &e.lines[n-1]
		if !strings.HasSuffix(last.text, "\n") {
			last.text += ending
			last.suffix += ending
		}
	}
	q := byte(0)
	if needsQuote(value) {
		q = '"'
	}
	e.lines = append(e.lines, line{
		text: name + "=" + quoteValue(value, q) + ending, name: name, value: value, quote: q, suffix: ending,
	})
	return nil
}

// rawValuePart returns the bytes of l.text that hold the value, quotes
// included: everything between "NAME=" (and spaces) and the suffix.
func (l *line) rawValuePart() string {
	t := l.text[:len(l.text)-len(l.suffix)]
	// The first '=' is the assignment's: names and "export" hold none.
	j := strings.IndexByte(t, '=') + 1
	for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
		j++
	}
	return t[j:]
}

func needsQuote(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isNameByte(c) || c == '-' || c == '=' || c == ',' || c == '/' || c == ':' || c == '+' || c == '@') {
			return true
		}
	}
	return false
}

func quoteValue(v string, q byte) string {
	switch q {
	case '\'':
		return "'" + v + "'"
	case '"':
		return Quote(v)
	}
	return v
}

// Bytes returns the file's contents as they would be written.
func (e *File) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range e.lines {
		b.WriteString(l.text)
	}
	return b.Bytes()
}

// ErrChanged is returned by Write when the file on disk is no longer
// the one that was read.
var ErrChanged = errors.New("env file changed on disk since it was read")

// Write replaces the file on disk with [File.Bytes], atomically: it
// writes a temporary file (mode 0600) in the same directory, syncs it,
// keeps the current file as FILE.bak (mode 0600, written the same way),
// renames the temporary file over FILE and syncs the directory. At every
// instant FILE is either wholly the old contents or wholly the new. Write
// fails with ErrChanged, changing nothing, when the file on disk is
// not the one that was read.
func (e *File) Write() error {
	if e.path == "" {
		return errors.New("env file: no path; read it with Read")
	}
	cur, err := os.ReadFile(e.path)
	if err != nil {
		return &FileError{Path: e.path, Reason: "cannot be read back before writing", Err: err}
	}
	if !bytes.Equal(cur, e.raw) {
		return &FileError{Path: e.path, Reason: "changed on disk while it was being edited; nothing written", Err: ErrChanged}
	}
	next := e.Bytes()
	removeStaleTemps(e.path)
	for _, w := range []struct {
		path string
		data []byte
	}{{e.path + ".bak", cur}, {e.path, next}} {
		if err := safefile.WriteFile(w.path, w.data, safefile.Options{KeepOwner: true}); err != nil {
			return &FileError{Path: e.path, Reason: "cannot be replaced", Err: err}
		}
	}
	e.raw = next
	e.mode = 0o600
	return nil
}

// removeStaleTemps removes temporary files a killed writer left beside
// path (they may hold keys). Callers hold the env file's lock, so no live
// writer owns them.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	for _, b := range []string{base, base + ".bak"} {
		matches, _ := filepath.Glob(filepath.Join(dir, "."+b+".tmp-*"))
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
}
