package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Inputs is what one scan reads: exactly one kind of input.
type Inputs struct {
	Paths          []string  // files and directories (the default)
	Git            string    // a repository whose history is scanned ("" with Staged: ".")
	Staged         bool      // the lines added in the git index
	Stdin          io.Reader // a stream, named (stdin)
	Image          string    // a docker save archive
	IncludeIgnored bool      // with Paths: also what .gitignore excludes
}

// ErrInputs is a scan given more than one kind of input.
var ErrInputs = errors.New("scan: more than one kind of input")

// Select makes paths the input when there are any, or the current
// directory when no input is given at all; more than one kind of input
// (paths, Git, Staged, Stdin, Image) is ErrInputs.
func (in *Inputs) Select(paths []string) error {
	kinds := 0
	for _, on := range []bool{len(paths) > 0, in.Git != "", in.Staged, in.Stdin != nil, in.Image != ""} {
		if on {
			kinds++
		}
	}
	if kinds > 1 {
		return ErrInputs
	}
	if in.Paths = paths; kinds == 0 {
		in.Paths = []string{"."}
	}
	return nil
}

// Summary says what a scan read, and whether it was all of it.
type Summary struct {
	Stats
	What    string   // "12 files (0 binary and 3 ignored skipped)", ...
	Partial []string // inputs that could not be read, printable
	Nothing bool     // nothing was scanned: not a clean result
}

// RunInputs scans in with the pipeline of Run and summarises what was read.
func (s *Scanner) RunInputs(ctx context.Context, in Inputs, workers int, explain func(Explained), sink func(Finding) error) (Summary, error) {
	var (
		walkSt  WalkStats
		gitSt   GitStats
		imageSt ImageStats
		produce func(send func(Unit) bool) error
	)
	git := in.Git != "" || in.Staged
	switch {
	case git:
		repo := in.Git
		if repo == "" {
			repo = "."
		}
		produce = func(send func(Unit) bool) error { return GitHistory(ctx, repo, in.Staged, &gitSt, send) }
	case in.Stdin != nil:
		produce = func(send func(Unit) bool) error {
			return Chunks(bufio.NewReaderSize(in.Stdin, 1<<20), "(stdin)", 0, send)
		}
	case in.Image != "":
		produce = func(send func(Unit) bool) error { return DockerImage(in.Image, &imageSt, send) }
	default:
		produce = func(send func(Unit) bool) error {
			return Walk(in.Paths, WalkOptions{IncludeIgnored: in.IncludeIgnored}, &walkSt, send)
		}
	}
	st, err := s.Run(ctx, workers, produce, explain, sink)
	sum := Summary{Stats: st, Nothing: st.Units == 0}
	switch {
	case git:
		sum.What = fmt.Sprintf("%d added lines in %d commits", gitSt.AddedLines, gitSt.Commits)
		if in.Staged {
			sum.What = fmt.Sprintf("%d staged added lines", gitSt.AddedLines)
			sum.Nothing = false // an empty index is a clean commit
		}
		if gitSt.Binaries > 0 {
			sum.What += fmt.Sprintf(" (%d binary files skipped)", gitSt.Binaries)
		}
		sum.Partial = gitSt.Hidden
	case in.Stdin != nil:
		sum.What = fmt.Sprintf("%d bytes of stdin", st.Bytes)
		sum.Nothing = st.Bytes == 0
	case in.Image != "":
		sum.What = fmt.Sprintf("%d files in %d layers and the config of %s", imageSt.Files, imageSt.Layers, PrintableName(in.Image))
		sum.Partial = imageSt.Errors
	default:
		sum.What = fmt.Sprintf("%d files (%d binary and %d ignored skipped)", walkSt.Files+st.Files, walkSt.Binaries+st.Binaries, walkSt.Ignored)
		sum.Partial = append(walkSt.Errors, st.Unreadable...)
		sum.Nothing = walkSt.Files+st.Files == 0 // binaries and ignored files only
	}
	for i, p := range sum.Partial {
		sum.Partial[i] = Printable(p)
	}
	return sum, err
}

// Incomplete is the error of a scan some of whose inputs could not be read:
// it names at most five of them.
func (sum Summary) Incomplete() error {
	if len(sum.Partial) == 0 {
		return nil
	}
	p := sum.Partial
	if len(p) > 5 {
		p = append(p[:5:5], "...")
	}
	return fmt.Errorf("scan incomplete: %d inputs could not be read: %s", len(sum.Partial), strings.Join(p, "; "))
}
