package rotate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxEnvFileSize bounds the env files ReadEnvFile accepts.
const MaxEnvFileSize = 4 << 20

// EnvFile is a parsed .env file that can be edited and written back with
// every line it does not touch kept byte for byte: comments, blank lines,
// export prefixes, quoting, line endings, and lines it cannot parse.
//
// The syntax is the common one of docker compose and python-dotenv:
//
//	# comment
//	NAME=value            # inline comment after whitespace
//	export NAME='single quoted, no escapes'
//	NAME="double quoted, \" \\ \n escapes, may span lines"
type EnvFile struct {
	path  string // absolute, symlinks resolved
	raw   []byte // the bytes parsed, to detect a concurrent change
	mode  fs.FileMode
	lines []envLine
}

// envLine is one logical line (a quoted value may span several physical
// lines). text holds it with its line ending; name is "" for lines that
// assign nothing.
type envLine struct {
	text   string
	name   string
	value  string
	export bool
	quote  byte   // 0, '\'' or '"'
	suffix string // what follows the value: inline comment and line ending
}

// EnvFileError reports a problem with an env file. It names the file and
// the line, never a value.
type EnvFileError struct {
	Path   string
	Line   int // 0 when not about one line
	Reason string
	Err    error
}

func (e *EnvFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("env file %s: line %d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("env file %s: %s", e.Path, e.Reason)
}

func (e *EnvFileError) Unwrap() error { return e.Err }

// ReadEnvFile reads and parses path. A missing or unreadable file, one over
// [MaxEnvFileSize], or one that is not text, is an *EnvFileError.
func ReadEnvFile(path string) (*EnvFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &EnvFileError{Path: path, Reason: "bad path", Err: err}
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open(abs)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &EnvFileError{Path: path, Reason: "does not exist", Err: err}
		case errors.Is(err, fs.ErrPermission):
			return nil, &EnvFileError{Path: path, Reason: "cannot be read (permission denied)", Err: err}
		}
		return nil, &EnvFileError{Path: path, Reason: "cannot be opened", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &EnvFileError{Path: path, Reason: "cannot be read", Err: err}
	}
	if !st.Mode().IsRegular() {
		return nil, &EnvFileError{Path: path, Reason: "is not a regular file"}
	}
	if st.Size() > MaxEnvFileSize {
		return nil, &EnvFileError{Path: path, Reason: fmt.Sprintf("larger than %d MiB", MaxEnvFileSize>>20)}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxEnvFileSize+1))
	if err != nil {
		return nil, &EnvFileError{Path: path, Reason: "cannot be read", Err: err}
	}
	if len(b) > MaxEnvFileSize {
		return nil, &EnvFileError{Path: path, Reason: fmt.Sprintf("larger than %d MiB", MaxEnvFileSize>>20)}
	}
	ef, err := ParseEnv(b)
	if err != nil {
		var pe *EnvFileError
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
func ParseEnv(b []byte) (*EnvFile, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, &EnvFileError{Reason: "contains a NUL byte; not an env file"}
	}
	ef := &EnvFile{raw: append([]byte(nil), b...), mode: 0o600}
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
			return nil, &EnvFileError{Line: lineNo, Reason: err.Error()}
		}
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
func parseLine(s string) (l envLine, rest string, used int, err error) {
	first, after := physLine(s)
	l.text, rest, used = first, after, 1
	p := strings.TrimLeft(first, " \t")
	if strings.HasPrefix(p, "export ") || strings.HasPrefix(p, "export\t") {
		l.export = true
		p = strings.TrimLeft(p[len("export"):], " \t")
	}
	if p == "" || !isNameStart(p[0]) {
		return envLine{text: first}, after, 1, nil // blank, comment or unknown: kept as is
	}
	i := 1
	for i < len(p) && isNameByte(p[i]) {
		i++
	}
	name := p[:i]
	p = strings.TrimLeft(p[i:], " \t")
	if !strings.HasPrefix(p, "=") {
		return envLine{text: first}, after, 1, nil
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
		val, n, ok := scanQuoted(whole, q)
		if !ok {
			return envLine{}, "", 0, fmt.Errorf("%s: unterminated %c-quoted value", name, q)
		}
		l.value = val
		end := prefixLen + 1 + n // just after the closing quote
		tail, rest2 := physLine(s[end:])
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
func scanQuoted(s string, q byte) (string, int, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, true
		case c == '\r' && crBeforeLF(s[i:]):
			// the \n is written when the loop reaches it
		case q == '"' && c == '\\' && i+1 < len(s):
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
	return "", 0, false
}

// Path returns the absolute path of the file (symlinks resolved), or "" for
// an EnvFile from ParseEnv.
func (e *EnvFile) Path() string { return e.path }

// Lookup returns the value of the last assignment to name, and whether
// there is one.
func (e *EnvFile) Lookup(name string) (string, bool) {
	for i := len(e.lines) - 1; i >= 0; i-- {
		if e.lines[i].name == name {
			return e.lines[i].value, true
		}
	}
	return "", false
}

// Count returns how many lines assign name.
func (e *EnvFile) Count(name string) int {
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
func (e *EnvFile) Getenv(fallback func(string) string) func(string) string {
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
func (e *EnvFile) Set(name, value string) error {
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
	e.lines = append(e.lines, envLine{
		text: name + "=" + quoteValue(value, q) + ending, name: name, value: value, quote: q, suffix: ending,
	})
	return nil
}

// rawValuePart returns the bytes of l.text that hold the value, quotes
// included: everything between "NAME=" (and spaces) and the suffix.
func (l *envLine) rawValuePart() string {
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
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
		return `"` + r.Replace(v) + `"`
	}
	return v
}

// Bytes returns the file's contents as they would be written.
func (e *EnvFile) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range e.lines {
		b.WriteString(l.text)
	}
	return b.Bytes()
}

// ErrEnvFileChanged is returned by Write when the file on disk is no longer
// the one that was read.
var ErrEnvFileChanged = errors.New("env file changed on disk since it was read")

// Write replaces the file on disk with [EnvFile.Bytes], atomically: it
// writes a temporary file (mode 0600) in the same directory, syncs it,
// keeps the current file as FILE.bak (mode 0600, written the same way),
// renames the temporary file over FILE and syncs the directory. At every
// instant FILE is either wholly the old contents or wholly the new. Write
// fails with ErrEnvFileChanged, changing nothing, when the file on disk is
// not the one that was read.
func (e *EnvFile) Write() error {
	if e.path == "" {
		return errors.New("env file: no path; read it with ReadEnvFile")
	}
	cur, err := os.ReadFile(e.path)
	if err != nil {
		return &EnvFileError{Path: e.path, Reason: "cannot be read back before writing", Err: err}
	}
	if !bytes.Equal(cur, e.raw) {
		return &EnvFileError{Path: e.path, Reason: "changed on disk while it was being edited; nothing written", Err: ErrEnvFileChanged}
	}
	next := e.Bytes()
	removeStaleTemps(e.path)
	owner := fileOwner(e.path)
	if err := writeFileAtomic(e.path+".bak", cur, owner); err != nil {
		return err
	}
	if err := writeFileAtomic(e.path, next, owner); err != nil {
		return err
	}
	e.raw = next
	e.mode = 0o600
	return nil
}

// WriteFileAtomic writes data to path through a synced temporary file in
// the same directory (mode 0600), renamed over path, then syncs the
// directory: a crash leaves either the old file or the new one, whole.
func WriteFileAtomic(path string, data []byte) error {
	return writeFileAtomic(path, data, nil)
}

// owner is a file's user and group, kept across a rewrite when the process
// may set them.
type owner struct{ uid, gid int }

func fileOwner(path string) *owner {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return &owner{int(sys.Uid), int(sys.Gid)}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, own *owner) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return &EnvFileError{Path: path, Reason: "cannot create a temporary file beside it", Err: err}
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return &EnvFileError{Path: path, Reason: "cannot set mode 0600 on the temporary file", Err: err}
	}
	if own != nil {
		_ = tmp.Chown(own.uid, own.gid) // best effort: only root may give a file away
	}
	if _, err := tmp.Write(data); err != nil {
		return &EnvFileError{Path: path, Reason: "cannot write the temporary file", Err: err}
	}
	if err := tmp.Sync(); err != nil {
		return &EnvFileError{Path: path, Reason: "cannot sync the temporary file", Err: err}
	}
	if err := tmp.Close(); err != nil {
		return &EnvFileError{Path: path, Reason: "cannot close the temporary file", Err: err}
	}
	if err := os.Rename(name, path); err != nil {
		return &EnvFileError{Path: path, Reason: "cannot rename the temporary file into place", Err: err}
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return &EnvFileError{Path: path, Reason: "cannot sync its directory", Err: err}
	}
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
