package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// ErrNotRepository is returned for --git on a directory that is not a git
// repository.
var ErrNotRepository = errors.New("scan: not a git repository")

// maxDiffLine bounds one line of git output; the rest of a longer line is
// skipped.
const maxDiffLine = 4 << 20

// GitStats counts what a git scan saw.
type GitStats struct {
	Commits    int
	AddedLines int
	// MergesSkipped is set when git is older than 2.36 and cannot show
	// what merge commits themselves added (--remerge-diff).
	MergesSkipped bool
}

// GitHistory sends every line added by every commit on every branch (as
// `git log -p --all` shows them), with its commit, author, date, path and
// line number. With staged, it sends the lines added in the index instead
// (`git diff --cached`), for a pre-commit hook.
//
// A merge commit adds the lines its author wrote while merging: conflict
// resolutions, and anything else slipped into the merge (an "evil merge").
// `git log -p` shows no diff for merges; GitHistory asks for git's
// --remerge-diff (git 2.36 and newer), the difference between the merge git
// would have made on its own and the recorded one, so those lines are
// scanned and attributed to the merge commit. Lines that came from either
// parent are not repeated. With an older git, merges are skipped and
// st.MergesSkipped says so.
func GitHistory(ctx context.Context, repo string, staged bool, st *GitStats, send func(Unit) bool) error {
	err := gitHistory(ctx, repo, staged, true, st, send)
	var old errOldGit
	if errors.As(err, &old) {
		st.MergesSkipped = true
		return gitHistory(ctx, repo, staged, false, st, send)
	}
	return err
}

// errOldGit is git refusing --diff-merges=remerge before it printed
// anything.
type errOldGit struct{ error }

func gitHistory(ctx context.Context, repo string, staged, merges bool, st *GitStats, send func(Unit) bool) error {
	check := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--git-dir")
	if out, err := check.CombinedOutput(); err != nil {
		if len(out) == 0 && !errors.As(err, new(*exec.ExitError)) {
			return fmt.Errorf("scan: running git: %w", err)
		}
		return fmt.Errorf("%w: %s", ErrNotRepository, repo)
	}
	args := []string{"-C", repo, "-c", "core.quotePath=false"}
	verb := "log"
	if staged {
		verb = "diff"
		args = append(args, "diff", "--cached")
	} else {
		args = append(args, "log", "-p", "--all", "--format=%x01%H%x09%an <%ae>%x09%aI")
		if merges {
			args = append(args, "--diff-merges=remerge")
		}
	}
	args = append(args, "-U0", "--no-color", "--no-ext-diff", "--no-textconv")
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("scan: running git: %w", err)
	}
	perr := parseDiff(out, st, send)
	if perr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		return perr
	}
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if merges && !staged && st.Commits == 0 && strings.Contains(msg, "remerge") {
			return errOldGit{fmt.Errorf("scan: git log: %s", msg)}
		}
		return fmt.Errorf("scan: git %s: %v: %s", verb, err, msg)
	}
	return nil
}

// parseDiff reads git's patch output and sends the added lines.
func parseDiff(r io.Reader, st *GitStats, send func(Unit) bool) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var (
		commit   *Commit
		path     string
		lineNo   int
		inHeader bool
		data     []byte
		lines    []LineInfo
		long     []byte
	)
	flush := func() bool {
		if len(data) == 0 {
			return true
		}
		ok := send(Unit{Data: data, Lines: lines})
		data, lines = nil, nil
		return ok
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if len(long) < maxDiffLine {
					long = append(long, line...)
				}
			}
			line = long
		}
		if len(line) > 0 {
			switch {
			case line[0] == 1:
				f := strings.SplitN(strings.TrimRight(string(line[1:]), "\n"), "\t", 3)
				c := &Commit{Hash: f[0]}
				if len(f) == 3 {
					c.Author, c.Date = f[1], f[2]
				}
				commit = c
				st.Commits++
			case bytes.HasPrefix(line, []byte("diff --git ")):
				inHeader = true
				path = ""
			case inHeader && bytes.HasPrefix(line, []byte("+++ ")):
				path = diffPath(string(bytes.TrimRight(line[4:], "\n")))
			case bytes.HasPrefix(line, []byte("@@ ")):
				inHeader = false
				lineNo = hunkStart(line)
			case !inHeader && line[0] == '+' && path != "":
				content := line[1:]
				if len(data)+len(content) > ChunkSize && !flush() {
					return errStopped
				}
				data = append(data, content...)
				if content[len(content)-1] != '\n' {
					data = append(data, '\n')
				}
				lines = append(lines, LineInfo{Path: path, Line: lineNo, Commit: commit})
				lineNo++
				st.AddedLines++
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
	}
	if !flush() {
		return errStopped
	}
	return nil
}

// diffPath turns "b/dir/file" (or a quoted "b/..." name) into dir/file;
// "/dev/null" (a deletion) becomes "".
func diffPath(s string) string {
	if s == "/dev/null" {
		return ""
	}
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
	}
	s = strings.TrimSuffix(s, "\t")
	return strings.TrimPrefix(s, "b/")
}

// hunkStart parses the new-file start of "@@ -a,b +c,d @@".
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
