package scan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// binarySniff is how much of a file is checked for NUL bytes.
const binarySniff = 8000

// WalkStats counts what a walk saw.
type WalkStats struct {
	Files    int      // text files scanned
	Binaries int      // files skipped as binary
	Ignored  int      // files and directories skipped by .gitignore
	Errors   []string // unreadable paths (the scan is partial)
}

// WalkOptions control which files a walk scans.
type WalkOptions struct {
	IncludeIgnored bool // also scan what .gitignore excludes
	ChunkSize      int
}

// Walk sends the text files under each path (files are sent as they are)
// as units. A path that is a symbolic link is followed, as find -H and git
// follow the paths they are given; below it, symbolic links are skipped
// (they may lead out of the tree, or round it), as are .git directories,
// binary files (a NUL byte in the first 8000 bytes) and, unless
// IncludeIgnored, what the .gitignore files under each root (and the root's
// .git/info/exclude) exclude. Unreadable paths are recorded in the stats,
// not fatal, and make the scan partial.
func Walk(paths []string, opt WalkOptions, st *WalkStats, send func(Unit) bool) error {
	for _, root := range paths {
		info, err := os.Lstat(root)
		if err != nil {
			return fmt.Errorf("scan: %s: %w", root, errors.Unwrap(err))
		}
		walkRoot := root
		if info.Mode()&fs.ModeSymlink != 0 {
			if info, err = os.Stat(root); err != nil {
				return fmt.Errorf("scan: %s: %w", root, errors.Unwrap(err))
			}
			if info.IsDir() {
				// A trailing separator makes WalkDir resolve the link
				// and walk what it points to, under the name given.
				walkRoot = filepath.Clean(root) + string(filepath.Separator)
			}
		}
		if !info.IsDir() {
			var c fileCounts
			err := readFile(root, root, opt.ChunkSize, &c, send)
			st.Files += c.files
			st.Binaries += c.binaries
			st.Errors = append(st.Errors, c.errors...)
			if err != nil {
				return err
			}
			continue
		}
		ign := &ignorer{}
		if !opt.IncludeIgnored {
			ign.load(root, "", filepath.Join(root, ".git", "info", "exclude"))
		}
		err = filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				st.Errors = append(st.Errors, p)
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			rel, _ := filepath.Rel(walkRoot, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if d.Name() == ".git" {
					return fs.SkipDir
				}
				if rel != "." && !opt.IncludeIgnored && ign.ignored(rel, true) {
					st.Ignored++
					return fs.SkipDir
				}
				if !opt.IncludeIgnored {
					dirRel := rel
					if dirRel == "." {
						dirRel = ""
					}
					ign.load(root, dirRel, filepath.Join(p, ".gitignore"))
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if !opt.IncludeIgnored && ign.ignored(rel, false) {
				st.Ignored++
				return nil
			}
			// The worker opens and reads the file, so that the many small
			// files of a tree are read in parallel.
			if !send(Unit{Path: p, load: func(emit func(Unit) bool) fileCounts {
				var c fileCounts
				if err := readFile(p, p, opt.ChunkSize, &c, emit); err != nil && !errors.Is(err, errStopped) {
					c.errors = append(c.errors, p)
				}
				return c
			}}) {
				return errStopped
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fileCounts is what reading files found.
type fileCounts struct {
	files, binaries int
	errors          []string
}

// readFile sends the text file p as units named name: whole when small,
// in chunks otherwise. A binary file is counted and skipped; a file that
// cannot be opened or read to its end is recorded in st.errors (what was
// read of it is scanned).
func readFile(p, name string, chunkSize int, st *fileCounts, send func(Unit) bool) error {
	f, err := os.Open(p)
	if err != nil {
		st.errors = append(st.errors, p)
		return nil
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, binarySniff)
	head, err := br.Peek(binarySniff)
	if err != nil && !errors.Is(err, io.EOF) {
		st.errors = append(st.errors, p) // a directory, an I/O error
		return nil
	}
	if bytes.IndexByte(head, 0) >= 0 {
		st.binaries++
		return nil
	}
	st.files++
	code := IsCodePath(name)
	if fi, err := f.Stat(); err == nil && fi.Size() < int64(ChunkSize) && chunkSize == 0 {
		// Small files, most of a source tree, go whole in one unit.
		data := make([]byte, 0, fi.Size()+1)
		var rerr error
		for {
			n, err := br.Read(data[len(data):cap(data)])
			data = data[:len(data)+n]
			if err != nil {
				if !errors.Is(err, io.EOF) {
					rerr = err
				}
				break
			}
			if len(data) == cap(data) {
				break
			}
		}
		if rerr == nil && len(data) == cap(data) { // grew since Stat
			rest, err := io.ReadAll(br)
			data = append(data, rest...)
			rerr = err
		}
		if rerr != nil {
			st.errors = append(st.errors, p)
		}
		if !send(Unit{Path: name, Data: data, FirstLine: 1, Code: code}) {
			return errStopped
		}
		return nil
	}
	if err := chunks(br, name, chunkSize, code, send); err != nil {
		if errors.Is(err, errStopped) {
			return err
		}
		st.errors = append(st.errors, p)
	}
	return nil
}

// ignorer applies .gitignore patterns: a reasonable subset of git's rules
// (comments, negation with !, directory-only patterns ending in /,
// anchoring by a leading or inner /, and *, ?, [...] and ** wildcards).
// Patterns apply to the directory of their .gitignore and below; the last
// matching pattern wins.
type ignorer struct {
	pats []ignorePattern
}

type ignorePattern struct {
	base    string // directory of the .gitignore, relative to the root ("" for the root)
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
}

// maxIgnoreFile bounds a .gitignore (or .git/info/exclude): the tree is
// the scan's input, and may be hostile.
const maxIgnoreFile = 1 << 20

// load adds the patterns of file. As git does, it does not follow a
// .gitignore that is a symbolic link (it could lead to /dev/zero, a FIFO or
// out of the tree); one that is not a regular file or is larger than
// maxIgnoreFile is not read either. Either way the scan covers more, never
// less.
func (ig *ignorer) load(root, base, file string) {
	if fi, err := os.Lstat(file); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxIgnoreFile {
		return
	}
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() { // replaced since Lstat
		return
	}
	b, err := ReadAllBounded(f, maxIgnoreFile, file)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := parseIgnoreLine(base, line); ok {
			ig.pats = append(ig.pats, p)
		}
	}
}

func parseIgnoreLine(base, line string) (ignorePattern, bool) {
	line = strings.TrimRight(line, "\r")
	if !strings.HasSuffix(line, "\\ ") {
		line = strings.TrimRight(line, " ")
	}
	if line == "" || line[0] == '#' {
		return ignorePattern{}, false
	}
	p := ignorePattern{base: base}
	if line[0] == '!' {
		p.negate = true
		line = line[1:]
	} else if line[0] == '\\' {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if line == "" {
		return ignorePattern{}, false
	}
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	var re strings.Builder
	if anchored {
		re.WriteString("^")
	} else {
		re.WriteString("^(?:.*/)?")
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case strings.HasPrefix(line[i:], "**/"):
			re.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(line[i:], "/**") && i+3 == len(line):
			re.WriteString("/.*")
			i += 2
		case strings.HasPrefix(line[i:], "**"):
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(line[i+1:], ']')
			if j < 0 {
				re.WriteString(`\[`)
				continue
			}
			class := line[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			re.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case c == '\\' && i+1 < len(line):
			i++
			re.WriteString(regexp.QuoteMeta(line[i : i+1]))
		default:
			// A byte at a time, as it stands: string(c) would spell
			// byte 0xC3 as U+00C3, so no name outside ASCII matched.
			re.WriteString(regexp.QuoteMeta(line[i : i+1]))
		}
	}
	re.WriteString("$")
	r, err := regexp.Compile(re.String())
	if err != nil {
		return ignorePattern{}, false
	}
	p.re = r
	return p, true
}

// ignored reports whether rel (slash-separated, relative to the root) is
// excluded.
func (ig *ignorer) ignored(rel string, isDir bool) bool {
	out := false
	for _, p := range ig.pats {
		if p.dirOnly && !isDir {
			continue
		}
		sub := rel
		if p.base != "" {
			if !strings.HasPrefix(rel, p.base+"/") {
				continue
			}
			sub = rel[len(p.base)+1:]
		}
		if p.re.MatchString(sub) {
			out = !p.negate
		}
	}
	return out
}

// ReadAllBounded reads r up to limit bytes; more is an error naming what.
func ReadAllBounded(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("scan: %s is larger than %d bytes", what, limit)
	}
	return b, nil
}

// codeExts are source files: there, an unquoted value is an expression,
// never a literal secret.
var codeExts = set(".go", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".py", ".java", ".kt", ".scala", ".c", ".h",
	".cc", ".cpp", ".hpp", ".cs", ".rs", ".rb", ".php", ".swift", ".m", ".lua", ".pl", ".dart", ".groovy", ".s",
	".html", ".htm", ".vue", ".svelte")

// IsCodePath reports whether name is a source file by its extension.
func IsCodePath(name string) bool {
	return codeExts[strings.ToLower(filepath.Ext(name))]
}
