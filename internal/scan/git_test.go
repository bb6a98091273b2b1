package scan

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gitRepo is a scratch repository for a test; its commands run with the
// test's own identity and no system or global configuration.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	r := &gitRepo{t, t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com", "GIT_COMMITTER_NAME=Ann",
		"GIT_COMMITTER_EMAIL=ann@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitTry is git that may fail (a conflicting merge).
func (r *gitRepo) gitTry(args ...string) {
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com", "GIT_COMMITTER_NAME=Ann",
		"GIT_COMMITTER_EMAIL=ann@example.com")
	cmd.Run()
}

func (r *gitRepo) write(name, body string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, body := range files {
		r.write(name, body)
	}
	r.git("add", "-A")
	r.git("commit", "-qm", msg)
	return r.git("rev-parse", "HEAD")
}

// stage commits files (a.txt when nil), then stages leak.txt holding leak.
func (r *gitRepo) stage(files map[string]string, leak string) {
	r.t.Helper()
	if files == nil {
		files = map[string]string{"a.txt": "a\n"}
	}
	r.commit("base", files)
	r.write("leak.txt", leak)
	r.git("add", "leak.txt")
}

// scanGit runs GitHistory on dir (or the index, staged) through the
// pipeline.
func scanGit(t *testing.T, dir string, staged bool) ([]Finding, GitStats, error) {
	t.Helper()
	var got []Finding
	var st GitStats
	_, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		return GitHistory(context.Background(), dir, staged, &st, send)
	}, nil, func(f Finding) error { got = append(got, f); return nil })
	return got, st, err
}

// canary writes an executable script that records its run in a file of
// its own, and returns the script and the file.
func canary(t *testing.T, dir, name string) (script, ran string) {
	t.Helper()
	ran = filepath.Join(t.TempDir(), name+".ran")
	script = filepath.Join(dir, name+".sh")
	body := "#!/bin/sh\necho \"$0 $*\" >> '" + ran + "'\ncat \"$2\" > \"$2.out\" 2>/dev/null\nexit 1\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, ran
}

// TestGitRunsNothingTheRepositoryNames: a scanned repository's configuration
// and attributes name programs for git to run (an fsmonitor hook, a gpg
// program for signed commits shown with log.showSignature, a merge driver
// that --remerge-diff ran, a textconv, an external diff, a pager and hooks);
// scanning its history and its index runs none of them.
func TestGitRunsNothingTheRepositoryNames(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	t.Parallel()
	r := newGitRepo(t)
	pw := "Zq8!" + rnd(alnumSet, 12, 700)
	fsmonitor, fsmonitorRan := canary(t, r.dir, "fsmonitor")
	gpg, gpgRan := canary(t, r.dir, "gpg")
	merge, mergeRan := canary(t, r.dir, "merge")
	textconv, textconvRan := canary(t, r.dir, "textconv")
	extdiff, extdiffRan := canary(t, r.dir, "extdiff")
	pager, pagerRan := canary(t, r.dir, "pager")
	hook, hookRan := canary(t, r.dir, "hook")
	r.commit("base", map[string]string{"f.txt": "a\nb\nc\n", ".gitattributes": "* merge=evil diff=evil\n"})
	// A merge whose conflict the merge driver would resolve.
	r.git("checkout", "-qb", "topic")
	r.commit("topic", map[string]string{"f.txt": "a\nTOPIC\nc\n"})
	r.git("checkout", "-q", "main")
	r.commit("main", map[string]string{"f.txt": "a\nMAIN\nc\n"})
	r.gitTry("merge", "-q", "topic")
	r.write("f.txt", "a\npassword="+pw+"\nc\n")
	r.git("add", "f.txt")
	r.git("commit", "-qm", "merge topic")
	// A signed commit (log.showSignature runs gpg.program on it).
	tree := r.git("rev-parse", "HEAD^{tree}")
	head := r.git("rev-parse", "HEAD")
	raw := "tree " + tree + "\nparent " + head + "\nauthor Ann <ann@example.com> 1700000000 +0000\n" +
		"committer Ann <ann@example.com> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n"
	obj := filepath.Join(t.TempDir(), "commit")
	os.WriteFile(obj, []byte(raw), 0o600)
	signed := r.git("hash-object", "-t", "commit", "-w", obj)
	r.git("update-ref", "refs/heads/main", signed)
	r.git("reset", "-q", "--hard", signed)
	for k, v := range map[string]string{
		"core.fsmonitor":            fsmonitor,
		"log.showSignature":         "true",
		"gpg.program":               gpg,
		"merge.evil.driver":         merge + " %O %A %B",
		"diff.evil.textconv":        textconv,
		"diff.evil.command":         extdiff,
		"diff.external":             extdiff,
		"core.pager":                pager,
		"pager.log":                 pager,
		"pager.diff":                pager,
		"core.hooksPath":            filepath.Dir(hook),
		"diff.evil.binary":          "true",
		"core.untrackedCache":       "true",
		"core.fsmonitorHookVersion": "2",
	} {
		r.git("config", k, v)
	}
	for _, name := range []string{"post-index-change", "reference-transaction", "post-checkout"} {
		os.Symlink(hook, filepath.Join(filepath.Dir(hook), name))
	}
	r.write("staged.txt", "token="+rnd(alnumSet, 40, 701)+"\n")
	r.gitTry("add", "staged.txt") // runs the fsmonitor itself: forget that run
	for _, f := range []string{fsmonitorRan, gpgRan, mergeRan, textconvRan, extdiffRan, pagerRan, hookRan} {
		os.Remove(f)
	}

	got, st, err := scanGit(t, r.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got, func(f Finding) bool { return f.Path == "f.txt" && f.Commit != "" }) {
		t.Errorf("history: findings %+v (%+v), want the merge's password", got, st)
	}
	staged, _, err := scanGit(t, r.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(staged) != 1 || staged[0].Path != "staged.txt" {
		t.Errorf("staged: findings %+v", staged)
	}
	for name, f := range map[string]string{"core.fsmonitor": fsmonitorRan, "gpg.program": gpgRan, "merge driver": mergeRan,
		"textconv": textconvRan, "external diff": extdiffRan, "pager": pagerRan, "hook": hookRan} {
		if b, err := os.ReadFile(f); err == nil {
			t.Errorf("the repository's %s ran: %s", name, b)
		}
	}
}

// TestGitFetchesNothing: in a partial clone, blobs the history needs are
// missing, and git fetched them from the remote the repository names,
// through the transport it names: an ext:: remote ran a program of the
// repository's. The scan now fetches nothing, runs nothing, and fails
// (exit 8) instead of passing without those blobs.
func TestGitFetchesNothing(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	t.Parallel()
	src := newGitRepo(t)
	src.git("config", "uploadpack.allowFilter", "true")
	src.git("config", "uploadpack.allowAnySHA1InWant", "true")
	src.commit("leak", map[string]string{"a.txt": "password=Zq8!" + rnd(alnumSet, 12, 730) + "\n"})
	src.commit("clean", map[string]string{"a.txt": "clean\n"})
	clone := &gitRepo{t, filepath.Join(t.TempDir(), "clone")}
	(&gitRepo{t, t.TempDir()}).git("clone", "-q", "--filter=blob:none", "--no-checkout", "file://"+src.dir, clone.dir)
	transport, ran := canary(t, t.TempDir(), "transport")
	clone.git("config", "remote.origin.url", "ext::"+transport)
	clone.git("config", "protocol.ext.allow", "always")
	_, _, err := scanGit(t, clone.dir, false)
	if err == nil {
		t.Error("the scan passed without the blobs it could not read")
	}
	if b, err := os.ReadFile(ran); err == nil {
		t.Errorf("the repository's transport ran: %s", b)
	}
}

// TestGitShowsWhatTheRepositoryHides: each setting or file of a scanned
// repository that made git leave content out of what the scanner read (so
// that `scan --git` or `--staged` reported clean) hides nothing: the
// secret is found, and the scan is not partial.
func TestGitShowsWhatTheRepositoryHides(t *testing.T) {
	t.Parallel()
	secret := func(i uint64) string { return "password=Zq8!" + rnd(alnumSet, 12, 710+i) + "\n" }
	for _, tc := range []struct {
		name   string
		setup  func(r *gitRepo) // commits leak.txt somewhere in the history, or stages it
		staged bool
		sub    string // scan from this subdirectory
		path   string // where the secret is, if not leak.txt
	}{
		{name: "attribute -diff", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{".gitattributes": "*.txt -diff\n", "leak.txt": secret(0)})
		}},
		{name: "attribute -diff, staged", staged: true, setup: func(r *gitRepo) {
			r.stage(map[string]string{".gitattributes": "*.txt -diff\n"}, secret(1))
		}},
		{name: "attribute binary", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{".gitattributes": "*.txt binary\n", "leak.txt": secret(2)})
		}},
		{name: "diff driver declared binary", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{".gitattributes": "*.txt diff=hide\n", "leak.txt": secret(3)})
			r.git("config", "diff.hide.binary", "true")
		}},
		{name: "info/attributes", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{"leak.txt": secret(4)})
			os.WriteFile(filepath.Join(r.dir, ".git", "info", "attributes"), []byte("* -diff\n"), 0o644)
		}},
		{name: "core.bigFileThreshold", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{"leak.txt": secret(5) + strings.Repeat("filler line\n", 200)})
			r.git("config", "core.bigFileThreshold", "1k")
		}},
		{name: "log.showRoot=false", setup: func(r *gitRepo) {
			r.commit("root", map[string]string{"leak.txt": secret(6)})
			r.git("config", "log.showRoot", "false")
		}},
		{name: "diff.relative from a subdirectory", sub: "sub", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{"leak.txt": secret(7), "sub/keep.txt": "x\n"})
			r.git("config", "diff.relative", "true")
		}},
		{name: "diff.mnemonicPrefix, staged", staged: true, setup: func(r *gitRepo) {
			r.stage(nil, secret(8))
			r.git("config", "diff.mnemonicPrefix", "true")
		}},
		{name: "diff.noprefix", path: "b/leak.txt", setup: func(r *gitRepo) {
			r.commit("leak", map[string]string{"b/leak.txt": secret(9)})
			r.git("config", "diff.noprefix", "true")
		}},
		{name: "diff.orderFile that cannot be read", staged: true, setup: func(r *gitRepo) {
			r.stage(nil, secret(10))
			r.git("config", "diff.orderFile", "/nonexistent")
		}},
		{name: "replace ref", setup: func(r *gitRepo) {
			r.commit("base", map[string]string{"a.txt": "a\n"})
			leak := r.commit("leak", map[string]string{"leak.txt": secret(11)})
			clean := r.git("commit-tree", leak+"^^{tree}", "-p", leak+"^", "-m", "leak")
			r.git("replace", leak, clean)
		}},
		{name: "graft", setup: func(r *gitRepo) {
			r.commit("base", map[string]string{"a.txt": "a\n"})
			leak := r.commit("leak", map[string]string{"leak.txt": secret(12)})
			twin := r.git("commit-tree", leak+"^{tree}", "-m", "twin")
			os.WriteFile(filepath.Join(r.dir, ".git", "info", "grafts"), []byte(leak+" "+twin+"\n"), 0o644)
			r.git("config", "log.showRoot", "false")
		}},
		{name: "octopus merge", setup: func(r *gitRepo) {
			base := r.commit("base", map[string]string{"a.txt": "a\n"})
			for _, b := range []string{"b1", "b2"} {
				r.git("checkout", "-q", "-b", b, base)
				r.commit(b, map[string]string{b + ".txt": b + "\n"})
			}
			r.git("checkout", "-q", "main")
			r.commit("main", map[string]string{"m.txt": "m\n"})
			r.gitTry("merge", "-q", "--no-commit", "b1", "b2")
			r.write("leak.txt", secret(13))
			r.git("add", "leak.txt")
			r.git("commit", "-qm", "octopus")
		}},
		{name: "merge of a file declared binary", setup: func(r *gitRepo) {
			base := r.commit("base", map[string]string{".gitattributes": "*.txt -diff\n", "leak.txt": "a\nb\n"})
			r.git("checkout", "-q", "-b", "topic", base)
			r.commit("topic", map[string]string{"leak.txt": "a\ntopic\n"})
			r.git("checkout", "-q", "main")
			r.commit("main", map[string]string{"leak.txt": "a\nmain\n"})
			r.gitTry("merge", "-q", "topic")
			r.write("leak.txt", "a\n"+secret(14))
			r.git("add", "leak.txt")
			r.git("commit", "-qm", "merge")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newGitRepo(t)
			tc.setup(r)
			got, st, err := scanGit(t, filepath.Join(r.dir, tc.sub), tc.staged)
			if err != nil {
				t.Fatal(err)
			}
			path := cmp.Or(tc.path, "leak.txt")
			if !slices.ContainsFunc(got, func(f Finding) bool { return f.Path == path }) {
				t.Errorf("no finding in %s: %+v (%+v)", path, got, st)
			}
			if len(st.Hidden) != 0 {
				t.Errorf("partial: %q", st.Hidden)
			}
		})
	}
}

// TestGitBinaryAndLongLines: a file whose added content starts with a NUL
// byte is counted and skipped, as the walk skips it; an added line longer
// than the 4 MiB git lines were cut at is scanned to its end, with the
// column `scan .` gives.
func TestGitBinaryAndLongLines(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	pw := "Zq8!" + rnd(alnumSet, 12, 720)
	long := strings.Repeat("x", 5<<20+12345) + " password=" + pw + "\n"
	r.commit("long", map[string]string{"long.txt": long, "blob.bin": "\x00\x01password=" + pw + "\n"})
	got, st, err := scanGit(t, r.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Path != "long.txt" || got[0].Line != 1 || got[0].Column != 5<<20+12345+11 {
		t.Fatalf("findings %+v, want long.txt:1:%d", got, 5<<20+12345+11)
	}
	var walked []Finding
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "long.txt"), []byte(long), 0o600)
	New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		return Walk([]string{dir}, WalkOptions{}, &WalkStats{}, send)
	}, nil, func(f Finding) error { walked = append(walked, f); return nil })
	if len(walked) != 1 || walked[0].Column != got[0].Column {
		t.Errorf("walk found %+v, git %+v", walked, got)
	}
	if st.Binaries != 1 || st.AddedLines != 1 {
		t.Errorf("stats %+v, want 1 binary file and 1 added line", st)
	}
}

// TestParseDiff reads patches and combined diffs: only lines new against
// every parent are content, with their path and line.
func TestParseDiff(t *testing.T) {
	in := "\x01c1\tAnn <a@x>\t2026-01-01\n\n" +
		"diff --git a/x.txt b/x.txt\nindex 1..2 100644\n--- a/x.txt\n+++ b/x.txt\n@@ -1,0 +2,2 @@ ctx\n+one\n+two\n-gone\n\\ No newline at end of file\n" +
		"\x01c2\tBob <b@x>\t2026-01-02\n\n" +
		"diff --cc m.txt\nindex 1,2..3\n--- a/m.txt\n+++ b/m.txt\n@@@ -1,1 -1,1 +5,4 @@@\n++evil\n +from-one\n+ from-two\n- removed\n++evil2\n" +
		"diff --cc o.txt\n--- /dev/null\n+++ b/o.txt\n@@@@ -0,0 -0,0 -0,0 +1,1 @@@@\n+++octo\n"
	var units []Unit
	var st GitStats
	if _, err := parseDiff(strings.NewReader(in), &st, func(u Unit) bool { units = append(units, u); return true }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range units {
		for i, l := range bytes.SplitAfter(u.Data, []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			li := u.Lines[i]
			got = append(got, fmt.Sprintf("%s:%d:%s:%s", li.Path, li.Line, li.Commit.Hash, strings.TrimSpace(string(l))))
		}
	}
	want := []string{"x.txt:2:c1:one", "x.txt:3:c1:two", "m.txt:5:c2:evil", "m.txt:8:c2:evil2", "o.txt:1:c2:octo"}
	if !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	if st.Commits != 2 || st.AddedLines != 5 {
		t.Errorf("stats %+v", st)
	}
}

// FuzzParseDiff: any output of git parses without panic, and every unit
// has one origin per line.
func FuzzParseDiff(f *testing.F) {
	f.Add([]byte("\x01c\ta\td\n\ndiff --git a/x b/x\n+++ b/x\n@@ -0,0 +1 @@\n+password=abc\n"))
	f.Add([]byte("diff --cc m\n+++ b/m\n@@@ -1 -1 +1 @@@\n++x\n@@@@ +\n+++y"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var st GitStats
		parseDiff(bytes.NewReader(b), &st, func(u Unit) bool {
			if n := bytes.Count(u.Data, []byte("\n")); n != len(u.Lines) && !(n == 0 && len(u.Lines) == 1) {
				t.Fatalf("%d lines, %d origins: %q", n, len(u.Lines), u.Data)
			}
			New(nil).ScanUnit(u)
			return true
		})
	})
}
