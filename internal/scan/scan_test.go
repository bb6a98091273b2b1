package scan

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKnownValuesAllForms(t *testing.T) {
	t.Parallel()
	val := []byte("p@ss w0rd/\"x\"+" + rnd(alnumSet, 12, 100))
	var values []KnownValue
	for i := range 1000 {
		values = append(values, KnownValue{Name: fmt.Sprintf("svc-%d", i), Version: 1, Value: []byte(rnd(alnumSet, 32, uint64(200+i)))})
	}
	values = append(values, KnownValue{Name: "db-password", Version: 3, Value: val}, KnownValue{Name: "pin", Version: 1, Value: []byte("1234")})
	k := NewKnownSet(values)
	if got := k.Skipped(); len(got) != 1 || got[0] != "pin" {
		t.Fatalf("Skipped = %q, want [pin]", got)
	}
	s := New(k)
	for _, enc := range []string{
		string(val),
		base64.StdEncoding.EncodeToString(val),
		base64.RawStdEncoding.EncodeToString(val),
		base64.URLEncoding.EncodeToString(val),
		base64.RawURLEncoding.EncodeToString(val),
		url.QueryEscape(string(val)),
		hex.EncodeToString(val),
		strings.ToUpper(hex.EncodeToString(val)),
		`p@ss w0rd/\"x\"+` + string(val[len(val)-12:]),
	} {
		line := "msg=hello value=" + enc + " end\n"
		ms := s.Find([]byte(line), nil)
		if len(ms) != 1 || ms[0].Rule != RuleKnown || ms[0].Name != "db-password" || ms[0].Version != 3 {
			t.Errorf("form %q: matches %+v, want db-password v3", enc, ms)
			continue
		}
		if line[ms[0].Start:ms[0].End] != enc {
			t.Errorf("form %q: span %q", enc, line[ms[0].Start:ms[0].End])
		}
	}
	// The 1000th value is found too.
	last := values[999]
	if ms := s.Find([]byte("x "+string(last.Value)+" y"), nil); len(ms) != 1 || ms[0].Name != "svc-999" {
		t.Errorf("value 999 not found: %+v", ms)
	}
	if ms := s.Find([]byte("nothing known here at all, 1234"), nil); len(ms) != 0 {
		t.Errorf("false positive: %+v", ms)
	}
}

// TestKnownValuesJSONNonASCII finds a value outside ASCII as JSON writes
// it: Go's encoding/json and Python's json.dumps(ensure_ascii=False) keep
// its UTF-8, Python's default json.dumps (which the platform's services log
// with) escapes each character as \uxxxx, above U+FFFF as a surrogate pair.
func TestKnownValuesJSONNonASCII(t *testing.T) {
	t.Parallel()
	val := "Çlé \"sécrète\" 🔑" + rnd(alnumSet, 8, 101)
	m := NewMasker(New(NewKnownSet([]KnownValue{{Name: "db/password", Version: 2, Value: []byte(val)}})))
	for _, enc := range []string{
		`Çlé \"sécrète\" 🔑` + val[len(val)-8:],
		`\u00c7l\u00e9 \"s\u00e9cr\u00e8te\" \ud83d\udd11` + val[len(val)-8:],
	} {
		line := `{"level": "info", "config": {"password": "` + enc + `"}}`
		ms := m.s.Find([]byte(line), nil)
		if len(ms) != 1 || ms[0].Rule != RuleKnown || ms[0].Name != "db/password" || line[ms[0].Start:ms[0].End] != enc {
			t.Errorf("form %q: matches %+v", enc, ms)
		}
		if got := m.MaskString(line); strings.Contains(got, val[len(val)-8:]) {
			t.Errorf("mask let it through: %q", got)
		}
	}
}

func TestKnownValuesStrides(t *testing.T) {
	t.Parallel()
	// Shortest forms of 8, 9, 10, 11, 14 and 40 bytes give strides 1, 2, 3,
	// 4, 7 and 8;
	// the value is found at every alignment and back to back.
	for _, n := range []int{8, 9, 10, 11, 14, 40} {
		v := rnd(alnumSet, n, uint64(n))
		other := rnd(alnumSet, n+5, uint64(n+1))
		s := New(NewKnownSet([]KnownValue{{Name: "v", Version: 1, Value: []byte(v)}, {Name: "o", Version: 2, Value: []byte(other)}}))
		for pad := 0; pad < 9; pad++ {
			line := strings.Repeat("-", pad) + v + v + " " + other + "|" + hex.EncodeToString([]byte(v))
			ms := s.Find([]byte(line), nil)
			var got []string
			for _, m := range ms {
				got = append(got, m.Name+"@"+fmt.Sprint(m.Start))
			}
			want := []string{"v@" + fmt.Sprint(pad), "v@" + fmt.Sprint(pad+n), "o@" + fmt.Sprint(pad+2*n+1), "v@" + fmt.Sprint(pad+2*n+1+len(other)+1)}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("len %d pad %d: got %v, want %v", n, pad, got, want)
			}
		}
	}
}

func TestRunOrderAndLocation(t *testing.T) {
	t.Parallel()
	pw := "Zq8!" + rnd(alnumSet, 12, 300)
	var in bytes.Buffer
	want := 0
	for i := range 20000 {
		if i%1000 == 7 {
			fmt.Fprintf(&in, "line %d password=%s done\n", i, pw)
			want++
		} else {
			fmt.Fprintf(&in, "line %d request_id=%s idempotency_key=3f2c1a9e-8b7d-4c6e-9f01-2a3b4c5d6e7f\n", i, rnd(hexSet, 32, uint64(i)))
		}
	}
	s := New(nil)
	var got []Finding
	st, err := s.Run(context.Background(), 4, func(send func(Unit) bool) error {
		return Chunks(bytes.NewReader(in.Bytes()), "log", 64<<10*3, send)
	}, nil, func(f Finding) error { got = append(got, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != int64(in.Len()) {
		t.Errorf("scanned %d bytes, want %d", st.Bytes, in.Len())
	}
	if len(got) != want {
		t.Fatalf("%d findings, want %d", len(got), want)
	}
	for i, f := range got {
		if f.Line != i*1000+7+1 || f.Column != len(fmt.Sprintf("line %d password=", i*1000+7))+1 || f.Path != "log" {
			t.Errorf("finding %d at %s:%d:%d", i, f.Path, f.Line, f.Column)
		}
		if strings.Contains(f.Excerpt, pw) || !strings.Contains(f.Excerpt, "password=****") {
			t.Errorf("excerpt %q", f.Excerpt)
		}
		if f.Fingerprint != got[0].Fingerprint {
			t.Errorf("fingerprint depends on the line")
		}
	}
}

func TestChunksHugeLine(t *testing.T) {
	t.Parallel()
	line := strings.Repeat("a=b, ", 300000) + "\nnext\n"
	var units []Unit
	if err := Chunks(strings.NewReader(line), "x", 256<<10, func(u Unit) bool { units = append(units, u); return true }); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, u := range units {
		all = append(all, u.Data...)
	}
	if string(all) != line || len(units) < 5 {
		t.Fatalf("%d units, lossless=%v", len(units), string(all) == line)
	}
	last := units[len(units)-1]
	if last.FirstLine != 1 && !strings.HasSuffix(string(last.Data), "next\n") {
		t.Fatalf("bad numbering")
	}
}

func TestMaskStream(t *testing.T) {
	t.Parallel()
	known := "kv-" + rnd(alnumSet, 20, 400)
	pw := "Zq8!" + rnd(alnumSet, 12, 401)
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte(known)}}))
	m := NewMasker(s)
	var in, want bytes.Buffer
	for i := range 50000 {
		fmt.Fprintf(&in, "%d value=%s b64=%s password=%s ok\n", i, known, base64.StdEncoding.EncodeToString([]byte(known)), pw)
		fmt.Fprintf(&want, "%d value=**** b64=**** password=**** ok\n", i)
	}
	// A huge line with secrets across every possible piece boundary.
	var huge, hugeWant bytes.Buffer
	for huge.Len() < 3*streamBuf {
		huge.WriteString("filler text " + known + " ")
		hugeWant.WriteString("filler text **** ")
	}
	huge.WriteString("\nend " + pw)
	hugeWant.WriteString("\nend " + pw)
	in.Write(huge.Bytes())
	want.Write(hugeWant.Bytes())
	var out bytes.Buffer
	if err := m.Stream(io.MultiReader(&in), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		o, w := out.String(), want.String()
		i := 0
		for i < len(o) && i < len(w) && o[i] == w[i] {
			i++
		}
		t.Fatalf("output differs at byte %d: got %q want %q", i, o[i:min(len(o), i+80)], w[i:min(len(w), i+80)])
	}
	if strings.Contains(out.String(), known) {
		t.Fatal("known value leaked")
	}
}

// syncBuffer is a bytes.Buffer safe for the masker's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineReader hands out one line per Read, and before each Read after the
// first it waits until everything handed out so far has been written: a
// masker that held a line back until more input came would never get it.
type lineReader struct {
	lines []string
	given string
	out   *syncBuffer
	t     *testing.T
}

func (r *lineReader) Read(p []byte) (int, error) {
	for i := 0; r.out.String() != r.given; i++ {
		if i > 5000 {
			r.t.Errorf("line not flushed before the next read: have %q, want %q", r.out.String(), r.given)
			return 0, io.ErrUnexpectedEOF
		}
		time.Sleep(time.Millisecond)
	}
	if len(r.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.lines[0])
	r.given += r.lines[0]
	r.lines = r.lines[1:]
	return n, nil
}

func TestMaskStreamFlushesEachLine(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	r := &lineReader{lines: []string{"one\n", "two\n", "three\n"}, out: out, t: t}
	if err := NewMasker(New(nil)).Stream(r, out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Fatalf("output %q", out.String())
	}
}

func TestWalkGitignore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := "Zq8!" + rnd(alnumSet, 12, 500)
	files := map[string]string{
		".gitignore":          "*.log\n/build/\n!keep.log\nsub/**/deep.txt\ncafé.txt\nnaïve/\n",
		"café.txt":            "password=" + pw + "\n",
		"naïve/x.txt":         "password=" + pw + "\n",
		"app.py":              "password = \"" + pw + "\"\n",
		"debug.log":           "password=" + pw + "\n",
		"keep.log":            "password=" + pw + "\n",
		"build/out.txt":       "password=" + pw + "\n",
		"sub/a/b/deep.txt":    "password=" + pw + "\n",
		"sub/.gitignore":      "local.txt\n",
		"sub/local.txt":       "password=" + pw + "\n",
		"bin.dat":             "password=" + pw + "\x00\x01",
		".git/config":         "password=" + pw + "\n",
		"docs/clean.md":       "nothing here\n",
		"other/local.txt":     "password=" + pw + "\n",
		"other/build/out.txt": "password=" + pw + "\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	scanPaths := func(include bool) []string {
		var st WalkStats
		var paths []string
		_, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
			return Walk([]string{dir}, WalkOptions{IncludeIgnored: include}, &st, send)
		}, nil, func(f Finding) error {
			rel, _ := filepath.Rel(dir, f.Path)
			paths = append(paths, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return paths
	}
	got := strings.Join(scanPaths(false), " ")
	if want := "app.py keep.log other/build/out.txt other/local.txt"; got != want {
		t.Errorf("honouring .gitignore: %s, want %s", got, want)
	}
	got = strings.Join(scanPaths(true), " ")
	if want := "app.py build/out.txt café.txt debug.log keep.log naïve/x.txt other/build/out.txt other/local.txt sub/a/b/deep.txt sub/local.txt"; got != want {
		t.Errorf("--include-ignored: %s, want %s", got, want)
	}
}

// TestWalkGitignoreHostile: a .gitignore that is a symbolic link is not
// followed (it could name /dev/zero), and one larger than maxIgnoreFile is
// not read: the files they would exclude are scanned.
func TestWalkGitignoreHostile(t *testing.T) {
	t.Parallel()
	pw := "Zq8!" + rnd(alnumSet, 12, 501)
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
	}{
		{"symbolic link", func(dir string) error {
			outside := filepath.Join(t.TempDir(), "patterns")
			if err := os.WriteFile(outside, []byte("*.log\n"), 0o600); err != nil {
				return err
			}
			return os.Symlink(outside, filepath.Join(dir, ".gitignore"))
		}},
		{"too large", func(dir string) error {
			big := "*.log\n" + strings.Repeat("#\n", maxIgnoreFile/2)
			return os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(big), 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "debug.log"), []byte("password="+pw+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			var st WalkStats
			n := 0
			if _, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
				return Walk([]string{dir}, WalkOptions{}, &st, send)
			}, nil, func(Finding) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != 1 || st.Ignored != 0 {
				t.Fatalf("%d findings, %d ignored: the .gitignore was read", n, st.Ignored)
			}
		})
	}
}

func TestGitHistory(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	t.Parallel()
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com", "GIT_COMMITTER_NAME=Ann",
			"GIT_COMMITTER_EMAIL=ann@example.com", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	pw := "Zq8!" + rnd(alnumSet, 12, 600)
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\ntwo\n"), 0o600)
	git("add", ".")
	git("commit", "-qm", "first")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\ntwo\n++ looks like a header\npassword="+pw+"\n"), 0o600)
	git("commit", "-qam", "leak")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\ntwo\n"), 0o600)
	git("commit", "-qam", "remove")
	var got []Finding
	var st GitStats
	_, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		return GitHistory(context.Background(), dir, false, &st, send)
	}, nil, func(f Finding) error { got = append(got, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Path != "a.txt" || got[0].Line != 4 || got[0].Author != "Ann <ann@example.com>" || len(got[0].Commit) != 40 || !strings.HasPrefix(got[0].Date, "2026-01-02") {
		t.Fatalf("findings %+v", got)
	}
	if st.Commits != 3 {
		t.Errorf("%d commits", st.Commits)
	}
	// Staged.
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("x\napi_key: "+rnd(alnumSet, 32, 601)+"\n"), 0o600)
	git("add", "b.txt")
	got = nil
	_, err = New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		return GitHistory(context.Background(), dir, true, &st, send)
	}, nil, func(f Finding) error { got = append(got, f); return nil })
	if err != nil || len(got) != 1 || got[0].Path != "b.txt" || got[0].Line != 2 {
		t.Fatalf("staged: %v %+v", err, got)
	}
	// A merge: a secret added only by the merge commit (an "evil merge"),
	// and another in a conflict's resolution, are found and attributed to
	// the merge; what the branches added is not reported twice.
	git("checkout", "-qb", "topic")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\ntopic\n"), 0o600)
	branchKey := rnd(alnumSet, 32, 602)
	os.WriteFile(filepath.Join(dir, "c.txt"), []byte("api_key: "+branchKey+"\n"), 0o600)
	git("add", ".")
	git("commit", "-qm", "topic")
	git("checkout", "-q", "main")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\nmain\n"), 0o600)
	git("commit", "-qam", "main")
	cmd := exec.Command("git", "-C", dir, "merge", "-q", "topic")
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com", "GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("merge did not conflict: %s", out)
	}
	resolved := "token=" + rnd(alnumSet, 40, 603)
	evil := "password=Zq8!" + rnd(alnumSet, 12, 604)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\n"+resolved+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "d.txt"), []byte(evil+"\n"), 0o600)
	git("add", ".")
	git("commit", "-qm", "merge topic")
	mergeHash, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, st = nil, GitStats{}
	_, err = New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		return GitHistory(context.Background(), dir, false, &st, send)
	}, nil, func(f Finding) error { got = append(got, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]Finding{}
	for _, f := range got {
		byPath[f.Path] = append(byPath[f.Path], f)
	}
	merge := strings.TrimSpace(string(mergeHash))
	for _, p := range []string{"a.txt", "d.txt"} {
		if !slices.ContainsFunc(byPath[p], func(f Finding) bool { return f.Commit == merge }) {
			t.Errorf("%s: findings %+v, want one in the merge commit %s", p, byPath[p], merge)
		}
	}
	if len(byPath["c.txt"]) != 1 {
		t.Errorf("c.txt, added on the branch: %d findings, want 1 (not repeated by the merge)", len(byPath["c.txt"]))
	}

	// Not a repository.
	err = GitHistory(context.Background(), t.TempDir(), false, &st, func(Unit) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Fatalf("non-repository: %v", err)
	}
}

func FuzzScan(f *testing.F) {
	for _, tc := range ruleCases() {
		f.Add([]byte(tc.line))
	}
	f.Add([]byte("postgres://a:b@c\npassword=\"\\\"x\nSA01_X_KEY=\n-----BEGIN PRIVATE KEY-----"))
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte("known-value-1")}}))
	m := NewMasker(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		ms := s.Find(b, func(Drop) {})
		last := 0
		for _, x := range ms {
			if x.Start < last || x.End <= x.Start || x.End > len(b) {
				t.Fatalf("bad match %+v", x)
			}
			last = x.End
		}
		s.ScanUnit(Unit{Path: "f", Data: b, FirstLine: 1})
		out := m.Mask(nil, b)
		if bytes.Contains(out, []byte("known-value-1")) && !bytes.Contains(bytes.ReplaceAll(b, []byte("known-value-1"), nil), []byte("known-value-1")) {
			t.Fatalf("known value survived masking: %q", out)
		}
	})
}
