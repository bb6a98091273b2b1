package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// ErrNotRepository is returned for --git on a directory that is not a git
// repository.
var ErrNotRepository = errors.New("scan: not a git repository")

// maxHeaderLine bounds what is kept of a line of git's output that is not
// content (a commit line, a file header): the rest of a longer one is not
// needed to scan, and is dropped. Added lines are never cut: a long one is
// scanned in pieces, as [Chunks] scans a long line of a file.
const maxHeaderLine = 64 << 10

// maxAuthor bounds the author kept for a finding; a longer one is cut and
// ends in "...".
const maxAuthor = 1 << 10

// GitStats counts what a git scan saw.
type GitStats struct {
	Commits    int
	AddedLines int
	// Binaries counts files whose added content holds a NUL byte in its
	// first 8000 bytes: skipped, as [Walk] skips binary files.
	Binaries int
	// Hidden lists content git did not show and that could not be read
	// otherwise: the scan is partial.
	Hidden []string
}

// gitConfig is set on the command line of every git command the scanner
// runs, above every configuration file: each entry names a setting that a
// scanned repository (its .git/config, an included file, .gitattributes)
// could use to run a program or to keep content out of the diff. Command-line
// configuration is git's highest priority, so the repository cannot undo any
// of them. The flags of gitLogArgs and gitStagedArgs say the same again
// where git has one, and gitEnv removes the system and global configuration.
// docs/scanner.md ("Git") gives the reason for each.
var gitConfig = []string{
	// Programs git would run.
	"core.fsmonitor=false",     // a hook run whenever the index is read (--staged)
	"core.hooksPath=/dev/null", // no hook can be found, whatever runs
	"core.pager=cat",           // with --no-pager: no pager
	"log.showSignature=false",  // with --no-show-signature: no gpg verification...
	"gpg.program=/dev/null",    // ...and no signature program could run anyway
	"gpg.openpgp.program=/dev/null",
	"gpg.x509.program=/dev/null",
	"gpg.ssh.program=/dev/null",
	"core.sshCommand=/dev/null", // a partial clone's lazy fetch: no transport runs
	"core.gitProxy=/dev/null",   // (GIT_ALLOW_PROTOCOL forbids every transport)
	"core.askPass=/dev/null",
	"advice.graftFileDeprecated=false", // GIT_GRAFT_FILE=/dev/null is read, quietly
	"credential.helper=",               // an empty value empties the helper list
	"protocol.allow=never",             // belt and braces with GIT_ALLOW_PROTOCOL
	"core.attributesFile=/dev/null",    // no attributes file outside the repository
	"diff.orderFile=/dev/null",         // with -O/dev/null: no file read for ordering
	// Settings that would hide or change content.
	"core.bigFileThreshold=1g",  // blobs above it count as binary (--text too)
	"core.commitGraph=false",    // a commit-graph file could misstate parents
	"core.useReplaceRefs=false", // refs/replace could substitute other objects
	"core.quotePath=false",      // names as UTF-8 (control characters stay C-quoted)
	"log.showRoot=true",         // with --root: the first commit's lines
	"log.mailmap=false",         // with --no-mailmap: the recorded author
	"i18n.logOutputEncoding=UTF-8",
	"diff.noprefix=false", // with --src-prefix/--dst-prefix: "b/path"
	"diff.mnemonicPrefix=false",
	"diff.relative=false", // with --no-relative: the whole tree, from any directory
	"diff.submodule=short",
	"diff.context=0",
	"diff.interHunkContext=0",
	"color.ui=false",
	"color.diff=false",
}

// gitDiffArgs are the diff options of both commands: every file shown as
// text (whatever attributes, drivers or size say), no external diff or
// textconv program, paths as b/path relative to the top.
var gitDiffArgs = []string{
	"-U0", "--text", "--no-ext-diff", "--no-textconv", "--no-color", "--no-relative",
	"--submodule=short", "--src-prefix=a/", "--dst-prefix=b/", "-O/dev/null",
}

// gitEnvDrop are variables of the caller's environment that change what git
// shows or runs; gitEnvSet replaces them. Variables that locate the
// repository (GIT_DIR, GIT_INDEX_FILE, GIT_WORK_TREE, ...) are kept, so that
// `scan --staged` in a pre-commit hook reads the index the commit is made
// from.
var gitEnvDrop = []string{
	"GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
	"GIT_CONFIG_NOSYSTEM", "GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_PAGER", "GIT_ATTR_SOURCE",
	"GIT_ATTR_NOSYSTEM", "GIT_GRAFT_FILE", "GIT_REPLACE_REF_BASE", "GIT_NO_REPLACE_OBJECTS", "GIT_SSH",
	"GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_ASKPASS", "GIT_ALLOW_PROTOCOL", "GIT_PROTOCOL_FROM_USER",
	"GIT_NO_LAZY_FETCH", "GIT_TERMINAL_PROMPT", "GIT_OPTIONAL_LOCKS", "GIT_LITERAL_PATHSPECS",
	"GIT_NOTES_REF", "GIT_MAILMAP_FILE",
}

var gitEnvSet = []string{
	"GIT_CONFIG_NOSYSTEM=1",       // no system configuration
	"GIT_CONFIG_GLOBAL=/dev/null", // no global configuration (~/.gitconfig, $XDG_CONFIG_HOME/git/config)
	"GIT_ATTR_NOSYSTEM=1",         // no system attributes
	"GIT_GRAFT_FILE=/dev/null",    // no grafts (info/grafts rewrites parents)
	"GIT_NO_REPLACE_OBJECTS=1",
	"GIT_NO_LAZY_FETCH=1",          // a partial clone does not fetch (where git knows it)...
	"GIT_ALLOW_PROTOCOL=sa01-none", // ...nor connects anywhere (every git)
	"GIT_TERMINAL_PROMPT=0",
	"GIT_OPTIONAL_LOCKS=0", // never write the index
	"GIT_PAGER=cat",
}

func gitEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := strings.HasPrefix(name, "GIT_CONFIG_KEY_") || strings.HasPrefix(name, "GIT_CONFIG_VALUE_")
		for _, d := range gitEnvDrop {
			drop = drop || name == d
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return append(out, gitEnvSet...)
}

// gitCommand is git run on repo with the repository's power to run programs
// or hide content taken away (gitConfig, gitEnv).
func gitCommand(ctx context.Context, repo string, args ...string) *exec.Cmd {
	all := []string{"--no-pager", "--no-replace-objects", "--literal-pathspecs", "-C", repo}
	for _, c := range gitConfig {
		all = append(all, "-c", c)
	}
	cmd := exec.CommandContext(ctx, "git", append(all, args...)...)
	cmd.Env = gitEnv()
	return cmd
}

// gitLogArgs is the history: every commit reachable from any ref, each
// as a patch against its parent (against nothing for a root commit), and
// each merge as a combined diff (--cc), whose lines marked added against
// every parent are what the merge itself brought: a conflict resolution,
// or anything slipped into the merge.
func gitLogArgs() []string {
	return append([]string{"log", "-p", "--all", "--cc", "--root", "--full-index", "--no-show-signature", "--no-mailmap",
		"--encoding=UTF-8", "--format=%x01%H%x09%an <%ae>%x09%aI"}, gitDiffArgs...)
}

func gitStagedArgs() []string {
	return append([]string{"diff", "--cached", "-p", "--full-index"}, gitDiffArgs...)
}

// GitHistory sends every line added by every commit on every branch, with
// its commit, author, date, path and line number. With staged, it sends the
// lines added in the index instead (`git diff --cached`), for a pre-commit
// hook.
//
// A merge commit adds the lines its author wrote while merging: conflict
// resolutions, and anything else slipped into the merge (an "evil merge").
// GitHistory asks git for combined diffs of merges (--cc) and scans the
// lines that no parent has, attributed to the merge; lines that came from a
// parent were scanned in that parent's history and are not repeated. Octopus
// merges are handled the same way.
//
// The repository is hostile input: git runs with its configuration and
// attributes neutralised (see gitConfig), so the scan runs no program the
// repository names, and every blob is shown as text whatever the
// repository says. Where git still prints "Binary files differ" (a merge's
// combined diff ignores --text), the file as the commit left it is read
// from the object store and scanned whole. Files whose content starts with
// a NUL byte are counted in st.Binaries and skipped, as a directory walk
// skips binary files; what cannot be read at all is listed in st.Hidden.
func GitHistory(ctx context.Context, repo string, staged bool, st *GitStats, send func(Unit) bool) error {
	check := gitCommand(ctx, repo, "rev-parse", "--git-dir")
	if out, err := check.CombinedOutput(); err != nil {
		if len(out) == 0 && !errors.As(err, new(*exec.ExitError)) {
			return fmt.Errorf("scan: running git: %w", err)
		}
		msg := strings.TrimSpace(string(out))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("%w: %s: %s", ErrNotRepository, repo, Printable(msg))
	}
	args, verb := gitLogArgs(), "log"
	if staged {
		args, verb = gitStagedArgs(), "diff --cached"
	}
	var blobs []gitBlob
	if err := runGit(ctx, repo, verb, args, nil, func(r io.Reader) error {
		var err error
		blobs, err = parseDiff(r, st, send)
		return err
	}); err != nil {
		return err
	}
	if len(blobs) == 0 {
		return nil
	}
	return scanBlobs(ctx, repo, blobs, st, send)
}

// runGit runs git with args on repo, feeding it stdin, and passes its
// output to read as it streams. An error of read stops git.
func runGit(ctx context.Context, repo, verb string, args []string, stdin io.Reader, read func(io.Reader) error) error {
	cmd := gitCommand(ctx, repo, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, n: 64 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("scan: running git: %w", err)
	}
	if err := read(out); err != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("scan: git %s: %v: %s", verb, err, Printable(strings.TrimSpace(stderr.String())))
	}
	return nil
}

// gitBlob is a file git showed as "Binary files differ": the blob a commit
// left at path, to be read whole.
type gitBlob struct {
	oid, path string
	commit    *Commit
}

// scanBlobs reads each blob with `git cat-file --batch` (which applies no
// filter or textconv) and sends it as a file of the commit: skipped when
// it starts with a NUL byte in its first 8000 bytes, as [Walk] skips
// binary files, scanned whole otherwise.
func scanBlobs(ctx context.Context, repo string, blobs []gitBlob, st *GitStats, send func(Unit) bool) error {
	var in bytes.Buffer
	for _, b := range blobs {
		in.WriteString(b.oid + "\n")
	}
	return runGit(ctx, repo, "cat-file", []string{"cat-file", "--batch"}, &in, func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 64<<10)
		for _, b := range blobs {
			head, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("scan: git cat-file: %w", err)
			}
			f := strings.Fields(head)
			if len(f) != 3 || f[1] != "blob" {
				st.Hidden = append(st.Hidden, fmt.Sprintf("%s in commit %s: blob %s cannot be read: %s", b.path, commitHash(b.commit), b.oid, strings.TrimSpace(head)))
				continue
			}
			size, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || size < 0 {
				return fmt.Errorf("scan: git cat-file: bad header %q", head)
			}
			body := bufio.NewReaderSize(io.LimitReader(br, size), binarySniff)
			if sniff, _ := body.Peek(binarySniff); bytes.IndexByte(sniff, 0) >= 0 {
				st.Binaries++
			} else {
				err := chunks(body, b.path, 0, IsCodePath(b.path), func(u Unit) bool {
					u.Commit = b.commit
					st.AddedLines += bytes.Count(u.Data[u.Lead:], []byte{'\n'})
					return send(u)
				})
				if err != nil {
					return err
				}
			}
			if _, err := io.Copy(io.Discard, body); err != nil {
				return err
			}
			if _, err := br.Discard(1); err != nil { // the newline after the content
				return err
			}
		}
		return nil
	})
}

func commitHash(c *Commit) string {
	if c == nil {
		return "(index)"
	}
	return c.Hash
}

// errEOF: the output ended inside a long added line.
var errEOF = errors.New("scan: end of git output")

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// diffParser turns git's patch output into units of added lines.
type diffParser struct {
	st   *GitStats
	send func(Unit) bool

	commit   *Commit
	path     string
	lineNo   int
	inHeader bool
	parents  int    // prefix columns of the current file's lines: 1, or a merge's parents
	binary   bool   // the current file's added content is binary: skip it
	sniffed  int    // added bytes of the current file checked for a NUL byte
	header   string // the current file's name, from its "diff" line
	blob     string // the blob the commit left at it, from its "index" line
	blobs    []gitBlob

	data  []byte
	lines []LineInfo
}

// parseDiff reads git's patch output and sends the added lines. It returns
// the files git showed as binary, to be read whole.
func parseDiff(r io.Reader, st *GitStats, send func(Unit) bool) ([]gitBlob, error) {
	p := &diffParser{st: st, send: send, parents: 1}
	br := bufio.NewReaderSize(r, 256<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: an added line is scanned in
			// pieces; of anything else the start is enough.
			if p.isAdded(line) {
				if err := p.longAdded(br, line); errors.Is(err, errEOF) {
					break
				} else if err != nil {
					return nil, err
				}
				continue
			}
			head := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if room := maxHeaderLine - len(head); room > 0 {
					head = append(head, line[:min(len(line), room)]...)
				}
			}
			line = head
		}
		if len(line) > 0 {
			if !p.line(line) {
				return nil, errStopped
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	if !p.flush() {
		return nil, errStopped
	}
	return p.blobs, nil
}

func (p *diffParser) flush() bool {
	if len(p.data) == 0 {
		return true
	}
	ok := p.send(Unit{Data: p.data, Lines: p.lines})
	p.data, p.lines = nil, nil
	return ok
}

// isAdded reports whether line is an added line of a hunk: a '+' in every
// prefix column (one for a patch, one per parent for a merge's combined
// diff).
func (p *diffParser) isAdded(line []byte) bool {
	if p.inHeader || p.path == "" || len(line) < p.parents {
		return false
	}
	for _, c := range line[:p.parents] {
		if c != '+' {
			return false
		}
	}
	return true
}

// sniff checks the first bytes of a file's added content for a NUL byte,
// the rule [Walk] applies to files; a binary file is counted and skipped.
func (p *diffParser) sniff(content []byte) {
	if p.sniffed >= binarySniff {
		return
	}
	n := min(len(content), binarySniff-p.sniffed)
	p.sniffed += n
	if bytes.IndexByte(content[:n], 0) >= 0 {
		p.binary = true
		p.st.Binaries++
	}
}

// line handles one line of output (at most maxHeaderLine bytes unless it
// is an added line that fits the reader's buffer).
func (p *diffParser) line(line []byte) bool {
	switch {
	case line[0] == 1:
		f := strings.SplitN(strings.TrimRight(string(line[1:]), "\n"), "\t", 3)
		c := &Commit{Hash: f[0]}
		if len(f) == 3 {
			c.Author, c.Date = cutString(f[1], maxAuthor), f[2]
		}
		p.commit = c
		p.st.Commits++
		p.path = ""
	case bytes.HasPrefix(line, []byte("diff --git ")):
		p.startFile(1, gitHeaderPath(string(bytes.TrimRight(line[len("diff --git "):], "\n"))))
	case bytes.HasPrefix(line, []byte("diff --cc ")), bytes.HasPrefix(line, []byte("diff --combined ")):
		_, name, _ := strings.Cut(strings.TrimRight(string(line), "\n"), "diff --c")
		_, name, _ = strings.Cut(name, " ")
		p.startFile(0, unquotePath(name)) // the hunk header gives the parents
	case p.inHeader && bytes.HasPrefix(line, []byte("+++ ")):
		p.path = diffPath(string(bytes.TrimRight(line[4:], "\n")))
	case p.inHeader && bytes.HasPrefix(line, []byte("index ")):
		// "index a..b mode", or "index a,b..c" for a merge: the last is
		// what the commit left.
		f := strings.Fields(string(line[len("index "):]))
		if len(f) > 0 {
			if _, after, ok := strings.Cut(f[0], ".."); ok {
				p.blob = after
			}
		}
	case p.inHeader && bytes.HasPrefix(line, []byte("Binary files ")):
		// --text makes git show every file of a commit, but a merge's
		// combined diff still declines binary-looking ones: read the
		// file as the commit left it instead.
		path := p.path
		if path == "" {
			path = p.header
		}
		switch {
		case strings.Trim(p.blob, "0") == "" && p.blob != "":
			// Deleted: nothing was added.
		case path == "" || p.blob == "":
			p.st.Hidden = append(p.st.Hidden, "git did not show a binary file in commit "+commitHash(p.commit)+": "+Printable(strings.TrimSpace(string(line))))
		default:
			p.blobs = append(p.blobs, gitBlob{oid: p.blob, path: path, commit: p.commit})
		}
	case bytes.HasPrefix(line, []byte("@@")):
		n := 0
		for n < len(line) && line[n] == '@' {
			n++
		}
		if n >= 2 && n < len(line) && line[n] == ' ' {
			p.inHeader = false
			p.parents = n - 1
			p.lineNo = hunkStart(line)
		}
	case p.isAdded(line):
		content := line[p.parents:]
		p.sniff(content)
		if p.binary {
			p.lineNo++
			return true
		}
		p.st.AddedLines++
		if len(p.data)+len(content) > ChunkSize && !p.flush() {
			return false
		}
		p.data = append(p.data, content...)
		if len(content) == 0 || content[len(content)-1] != '\n' {
			p.data = append(p.data, '\n')
		}
		p.lines = append(p.lines, LineInfo{Path: p.path, Line: p.lineNo, Commit: p.commit})
		p.lineNo++
	case !p.inHeader && p.path != "" && len(line) >= p.parents && bytes.IndexByte(line[:p.parents], '-') < 0:
		// A line of the result that some parent has (a merge's ' ' column;
		// context): not new, but it has its line number.
		p.lineNo++
	}
	return true
}

func (p *diffParser) startFile(parents int, header string) {
	p.inHeader = true
	p.path = ""
	p.header, p.blob = header, ""
	p.parents = max(parents, 1)
	p.binary = false
	p.sniffed = 0
}

// longAdded scans an added line longer than the reader's buffer, first its
// start in hand, then the rest as it comes, in units of at most ChunkSize
// cut where a token cannot be split (as [Chunks] cuts a long line). Each
// unit carries the line's origin and the column it starts at.
func (p *diffParser) longAdded(br *bufio.Reader, start []byte) error {
	if !p.flush() {
		return errStopped
	}
	li := []LineInfo{{Path: p.path, Line: p.lineNo, Commit: p.commit}}
	p.lineNo++
	counted := false
	var buf []byte
	col := 0
	piece, err := start[p.parents:], bufio.ErrBufferFull
	for {
		p.sniff(piece)
		if !p.binary {
			if !counted {
				p.st.AddedLines++
				counted = true
			}
			buf = append(buf, piece...)
		}
		for len(buf) >= ChunkSize {
			cut := cutInLine(buf[:ChunkSize])
			if !p.send(Unit{Data: append([]byte(nil), buf[:cut]...), Lines: li, ColOffset: col}) {
				return errStopped
			}
			col += cut
			buf = buf[:copy(buf, buf[cut:])]
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		piece, err = br.ReadSlice('\n')
	}
	if len(buf) > 0 {
		if buf[len(buf)-1] != '\n' {
			buf = append(buf, '\n')
		}
		if !p.send(Unit{Data: buf, Lines: li, ColOffset: col}) {
			return errStopped
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if errors.Is(err, io.EOF) {
		return errEOF
	}
	return nil
}

func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// diffPath turns "b/dir/file" (or a quoted "b/..." name) into dir/file;
// "/dev/null" (a deletion) becomes "".
func diffPath(s string) string {
	if s == "/dev/null" {
		return ""
	}
	s = unquotePath(strings.TrimSuffix(s, "\t"))
	return strings.TrimPrefix(s, "b/")
}

// unquotePath undoes git's C-style quoting of a name ("a\tb").
func unquotePath(s string) string {
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}

// gitHeaderPath is the new name in the rest of a "diff --git a/x b/y" line:
// quoted names are unambiguous; unquoted ones are when both are the same
// (no rename), and "" otherwise.
func gitHeaderPath(rest string) string {
	if strings.HasSuffix(rest, `"`) {
		if i := strings.LastIndex(rest[:len(rest)-1], ` "`); i >= 0 {
			return strings.TrimPrefix(unquotePath(rest[i+1:]), "b/")
		}
	}
	if n := len(rest); n%2 == 1 && rest[n/2] == ' ' && strings.HasPrefix(rest, "a/") && rest[n/2+1:n/2+3] == "b/" && rest[2:n/2] == rest[n/2+3:] {
		return rest[n/2+3:]
	}
	return ""
}

// hunkStart parses the new-file start of "@@ -a,b +c,d @@" (or of a
// combined diff's "@@@ -a,b -c,d +e,f @@@").
func hunkStart(line []byte) int {
	i := bytes.Index(line, []byte(" +"))
	if i < 0 {
		return 1
	}
	j := i + 2
	n := 0
	for j < len(line) && '0' <= line[j] && line[j] <= '9' {
		n = n*10 + int(line[j]-'0')
		j++
	}
	return n
}
