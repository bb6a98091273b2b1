package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

type scanEnv map[string]string

func newScanEnv(t *testing.T) scanEnv {
	t.Helper()
	dir := t.TempDir()
	e := scanEnv{
		"HOME":                   dir,
		"SA01_SECRETS_DB_DSN":    "sqlite://" + filepath.Join(dir, "secrets.db"),
		"SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode(),
	}
	initStore(t, func(k string) string { return e[k] })
	return e
}

func (e scanEnv) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return e[k] })
	return code, out.String(), errb.String()
}

// testValue builds a value that looks like a credential without being one
// spelled out in the source.
func testValue(tag string) string {
	h := sha256.Sum256([]byte(tag))
	return "Vq7!" + base64.RawURLEncoding.EncodeToString(h[:12])
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanKnownValuesEndToEnd(t *testing.T) {
	e := newScanEnv(t)
	v1, v2, short := testValue("one"), testValue("two"), "abc"
	for _, v := range []string{v1, v2} {
		if code, _, errs := e.run(t, v, "put", "app/upstream"); code != 0 {
			t.Fatalf("put: %d %s", code, errs)
		}
	}
	if code, _, errs := e.run(t, short, "put", "app/pin"); code != 0 {
		t.Fatalf("put: %d %s", code, errs)
	}
	// The values appear only encoded, under names no rule knows.
	dir := writeFiles(t, map[string]string{
		"a.txt": "header x-thing: " + base64.StdEncoding.EncodeToString([]byte(v1)) + "\n",
		"b.txt": "ok\nblob " + hex.EncodeToString([]byte(v2)) + " end\nquery ?q=" + url.QueryEscape(v2) + "\n",
	})
	code, out, errs := e.run(t, "", "scan", "--format", "json", dir)
	if code != ExitCheckFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitCheckFailed, errs)
	}
	var fs []struct {
		Path, Rule, Form string
		SecretName       string `json:"secret_name"`
		Line             int
		SecretVersion    int `json:"secret_version"`
	}
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fs {
		if f.Rule == "known-value" {
			got[filepath.Base(f.Path)+":"+f.SecretName+":"+f.Form+":"+string(rune('0'+f.SecretVersion))] = true
		}
	}
	for _, want := range []string{"a.txt:app/upstream:base64:1", "b.txt:app/upstream:hex:2", "b.txt:app/upstream:url-encoded:2"} {
		if !got[want] {
			t.Errorf("missing known-value finding %s; got %v", want, got)
		}
	}
	if !strings.Contains(errs, "secret app/pin has a value shorter than 8 bytes") {
		t.Errorf("no warning about the short value: %s", errs)
	}
	for _, v := range []string{v1, v2} {
		if strings.Contains(out+errs, v) {
			t.Fatal("a secret value reached the output")
		}
	}

	// mask replaces them, in every form, line by line.
	in := "a " + v1 + "\nb " + base64.RawURLEncoding.EncodeToString([]byte(v2)) + "\nc " + strings.ReplaceAll(strings.Trim(mustJSON(v2), `"`), "x", "x") + "\nclean line\n"
	code, out, errs = e.run(t, in, "mask")
	if code != 0 {
		t.Fatalf("mask: %d %s", code, errs)
	}
	if want := "a ****\nb ****\nc ****\nclean line\n"; out != want {
		t.Fatalf("mask output %q, want %q", out, want)
	}
	if strings.Count(errs, "app/pin") != 1 {
		t.Errorf("want one warning naming app/pin: %q", errs)
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestScanExitCodes(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir()}
	pw := testValue("ex")
	clean := writeFiles(t, map[string]string{"ok.txt": "nothing to see\n"})
	dirty := writeFiles(t, map[string]string{"app.py": "import os\npassword = \"" + pw + "\"\n"})
	empty := t.TempDir()

	if code, _, errs := e.run(t, "", "scan", clean); code != ExitOK {
		t.Errorf("clean: exit %d, %s", code, errs)
	}
	code, out, _ := e.run(t, "", "scan", dirty)
	if code != ExitCheckFailed || !strings.Contains(out, "app.py:2:13: generic-assignment: password = \"****\"") {
		t.Errorf("dirty: exit %d, output %q", code, out)
	}
	if strings.Contains(out, pw) {
		t.Error("secret in output")
	}
	if code, _, errs := e.run(t, "", "scan", empty); code != ExitError || !strings.Contains(errs, "nothing was scanned") {
		t.Errorf("empty: exit %d, %s", code, errs)
	}
	if code, _, errs := e.run(t, "", "scan", "--stdin"); code != ExitError || !strings.Contains(errs, "nothing was scanned") {
		t.Errorf("empty stdin: exit %d, %s", code, errs)
	}
	if _, err := exec.LookPath("git"); err == nil {
		if code, _, errs := e.run(t, "", "scan", "--git", clean); code != ExitUsage || !strings.Contains(errs, "not a git repository") {
			t.Errorf("--git on a directory: exit %d, %s", code, errs)
		}
	}
	if code, _, _ := e.run(t, "", "scan", "--stdin", clean); code != ExitUsage {
		t.Errorf("two inputs: exit %d", code)
	}
	if code, _, _ := e.run(t, "", "scan", "--format", "xml", clean); code != ExitUsage {
		t.Errorf("bad format: exit %d", code)
	}
	if code, _, _ := e.run(t, "", "scan", filepath.Join(clean, "missing")); code != ExitError {
		t.Errorf("missing path: exit %d", code)
	}
	code, out, _ = e.run(t, "log line password="+pw+" ok\n", "scan", "--stdin")
	if code != ExitCheckFailed || !strings.HasPrefix(out, "(stdin):1:19: generic-assignment: log line password=**** ok") {
		t.Errorf("stdin: exit %d %q", code, out)
	}
	// Inline allow.
	allowed := writeFiles(t, map[string]string{"x.py": "password = \"" + pw + "\"  # sa01-secrets:allow\n"})
	if code, _, _ := e.run(t, "", "scan", allowed); code != ExitOK {
		t.Errorf("allowed: exit %d", code)
	}
	_, _, errs := e.run(t, "", "scan", "--explain", allowed)
	if !strings.Contains(errs, "line carries sa01-secrets:allow") {
		t.Errorf("--explain: %s", errs)
	}
}

// testScanKey is a fingerprint key for the scanner (SA01_SECRETS_SCAN_KEY).
func testScanKey(tag string) string { return "scan-key-" + tag + "-" + strings.Repeat("0123456789", 3) }

func TestScanBaseline(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir(), "SA01_SECRETS_SCAN_KEY": testScanKey("a")}
	pw := testValue("bl")
	dir := writeFiles(t, map[string]string{"cfg.yaml": "db:\n  password: " + pw + "\n"})
	bl := filepath.Join(t.TempDir(), "baseline.json")
	if code, _, errs := e.run(t, "", "scan", "--write-baseline", bl, dir); code != ExitCheckFailed || !strings.Contains(errs, "wrote 1 findings") {
		t.Fatalf("write-baseline: %d %s", code, errs)
	}
	if fi, err := os.Stat(bl); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("baseline file mode: %v %v", fi, err)
	}
	b, _ := os.ReadFile(bl)
	if strings.Contains(string(b), pw) {
		t.Fatal("baseline holds the secret")
	}
	// Lines added above do not break the baseline.
	os.WriteFile(filepath.Join(dir, "cfg.yaml"), []byte("# new\n# lines\ndb:\n  password: "+pw+"\n"), 0o600)
	if code, _, errs := e.run(t, "", "scan", "--baseline", bl, dir); code != ExitOK || !strings.Contains(errs, "1 accepted in the baseline") {
		t.Fatalf("with baseline: %d %s", code, errs)
	}
	// A new secret is still reported.
	os.WriteFile(filepath.Join(dir, "cfg.yaml"), []byte("db:\n  password: "+pw+"\n  api_key: "+testValue("new")+"\n"), 0o600)
	if code, _, _ := e.run(t, "", "scan", "--baseline", bl, dir); code != ExitCheckFailed {
		t.Fatalf("new secret with baseline: exit %d", code)
	}
	// Without the key, or with another, the baseline is refused and says
	// how to make one; so is a version 1 baseline, whose unkeyed hashes
	// let a reader test guesses of the secrets.
	v1 := filepath.Join(t.TempDir(), "v1.json")
	os.WriteFile(v1, []byte(`{"version": 1, "findings": []}`), 0o600)
	for _, tc := range []struct {
		env        scanEnv
		file, want string
	}{
		{scanEnv{"HOME": e["HOME"]}, bl, "SA01_SECRETS_SCAN_KEY is not set"},
		{scanEnv{"HOME": e["HOME"], "SA01_SECRETS_SCAN_KEY": testScanKey("b")}, bl, "written with scan key"},
		{e, v1, "a version 1 baseline"},
	} {
		code, _, errs := tc.env.run(t, "", "scan", "--baseline", tc.file, dir)
		if code != ExitUsage || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "hint: ") || !strings.Contains(errs, "--write-baseline") {
			t.Errorf("exit %d, %s; want %d and %q with a hint", code, errs, ExitUsage, tc.want)
		}
	}
	if code, _, errs := (scanEnv{"HOME": e["HOME"]}).run(t, "", "scan", "--write-baseline", bl, dir); code != ExitUsage || !strings.Contains(errs, "SA01_SECRETS_SCAN_KEY") {
		t.Errorf("write without a key: exit %d, %s", code, errs)
	}
	// A baseline written inside the scanned tree is not scanned while it
	// is being written.
	inside := writeFiles(t, map[string]string{"cfg.yaml": "db:\n  password: " + pw + "\n"})
	if code, _, errs := e.run(t, "", "scan", "--write-baseline", filepath.Join(inside, ".sa01-baseline.json"), inside); code != ExitCheckFailed || !strings.Contains(errs, "1 findings in 1 files") {
		t.Errorf("baseline inside the tree: exit %d, %s", code, errs)
	}
}

// TestScanWriteBaselineRefusesALink: a checked-out .sa01-baseline.json that
// links to .git/hooks/pre-commit made --write-baseline replace the hook
// with JSON whose "path" held $(touch ...) from a crafted file name, and the
// next commit ran it. The link is refused, the hook is unchanged, and
// nothing is scanned.
func TestScanWriteBaselineRefusesALink(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir(), "SA01_SECRETS_SCAN_KEY": testScanKey("a")}
	dir := t.TempDir()
	hooks := filepath.Join(dir, ".git", "hooks")
	os.MkdirAll(hooks, 0o755)
	hook := "#!/bin/sh\nexit 0\n"
	os.WriteFile(filepath.Join(hooks, "pre-commit"), []byte(hook), 0o755)
	os.Symlink(filepath.Join(".git", "hooks", "pre-commit"), filepath.Join(dir, ".sa01-baseline.json"))
	os.WriteFile(filepath.Join(dir, "x$(touch PWNED).env"), []byte("DB_PASSWORD="+testValue("link")+"\n"), 0o600)
	code, out, errs := e.run(t, "", "scan", "--write-baseline", filepath.Join(dir, ".sa01-baseline.json"), dir)
	if code == ExitOK || code == ExitCheckFailed || !strings.Contains(errs, "symbolic link") || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(hooks, "pre-commit")); string(b) != hook {
		t.Fatalf("the hook was replaced:\n%s", b)
	}
}

func TestScanSARIF(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir(), "SA01_SECRETS_SCAN_KEY": testScanKey("a")}
	dir := writeFiles(t, map[string]string{"src/app.py": "token = \"" + testValue("sf") + "\"\n", "x.env": "SA01_AUTH_INTERNAL_TOKEN=" + testValue("env") + "\n"})
	code, out, errs := e.run(t, "", "scan", "--format", "sarif", dir)
	if code != ExitCheckFailed {
		t.Fatalf("exit %d %s", code, errs)
	}
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct {
						ID               string
						ShortDescription struct{ Text string }
					}
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn, EndColumn int }
					}
				}
				PartialFingerprints map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-2.1.0") || len(log.Runs) != 1 {
		t.Fatalf("header: %q %q %d runs", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "sa01-secrets" || len(run.Tool.Driver.Rules) < 20 {
		t.Fatalf("driver %q with %d rules", run.Tool.Driver.Name, len(run.Tool.Driver.Rules))
	}
	ids := map[string]bool{}
	for _, r := range run.Tool.Driver.Rules {
		if r.ID == "" || r.ShortDescription.Text == "" || ids[r.ID] {
			t.Errorf("bad or duplicate rule %+v", r)
		}
		ids[r.ID] = true
	}
	if len(run.Results) != 2 {
		t.Fatalf("%d results", len(run.Results))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.Level != "error" || r.Message.Text == "" || len(r.Locations) != 1 || len(r.PartialFingerprints["sa01SecretHash/v2"]) != 32 {
			t.Errorf("bad result %+v", r)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI == "" || strings.Contains(loc.ArtifactLocation.URI, "\\") || loc.Region.StartLine < 1 || loc.Region.StartColumn < 1 || loc.Region.EndColumn <= loc.Region.StartColumn {
			t.Errorf("bad location %+v", loc)
		}
	}
}

func TestScanDockerImage(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir()}
	envSecret, fileSecret, argSecret := testValue("env"), testValue("file"), testValue("arg")
	// A layer: a gzip-compressed tar with one config file.
	var layer bytes.Buffer
	gz := gzip.NewWriter(&layer)
	lt := tar.NewWriter(gz)
	body := []byte("db:\n  password: " + fileSecret + "\n")
	lt.WriteHeader(&tar.Header{Name: "etc/app/config.yaml", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	lt.Write(body)
	lt.Close()
	gz.Close()
	config, _ := json.Marshal(map[string]any{
		"config":  map[string]any{"Env": []string{"PATH=/usr/bin", "API_TOKEN=" + envSecret}},
		"history": []map[string]string{{"created_by": "|1 DB_PASSWORD=" + argSecret + " /bin/sh -c make"}},
	})
	manifest, _ := json.Marshal([]map[string]any{{"Config": "abc123.json", "Layers": []string{"deadbeefcafe/layer.tar"}}})
	img := filepath.Join(t.TempDir(), "image.tar")
	f, _ := os.Create(img)
	tw := tar.NewWriter(f)
	for _, ent := range []struct {
		name string
		data []byte
	}{{"deadbeefcafe/layer.tar", layer.Bytes()}, {"abc123.json", config}, {"manifest.json", manifest}} {
		tw.WriteHeader(&tar.Header{Name: ent.name, Mode: 0o644, Size: int64(len(ent.data)), Typeflag: tar.TypeReg})
		tw.Write(ent.data)
	}
	tw.Close()
	f.Close()
	code, out, errs := e.run(t, "", "scan", "--docker-image", img)
	if code != ExitCheckFailed {
		t.Fatalf("exit %d %s", code, errs)
	}
	for _, want := range []string{"image.tar!deadbeefcafe/etc/app/config.yaml:2:", "image.tar!config:Env[1]:1:", "image.tar!config:history[0]:1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("no finding at %s:\n%s", want, out)
		}
	}
	for _, s := range []string{envSecret, fileSecret, argSecret} {
		if strings.Contains(out+errs, s) {
			t.Fatal("secret in output")
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, []byte("not a tar"), 0o600)
	if code, _, _ := e.run(t, "", "scan", "--docker-image", bad); code != ExitError {
		t.Errorf("bad archive: exit %d", code)
	}
}

func TestLoggerMasks(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, func(k string) string {
		if k == config.EnvLogFormat {
			return "json"
		}
		return ""
	})
	pw := testValue("log")
	ghTail := strings.ReplaceAll(testValue("gh")+testValue("gh2"), "!", "")[:36]
	ghTail = strings.NewReplacer("-", "a", "_", "b").Replace(ghTail)
	log.Info("connecting to postgresql://app:"+pw+"@db:5432/app", "password", pw, "key_id", "k-1234",
		slog.String("note", "header github token ghp_"+ghTail))
	out := buf.String()
	if strings.Contains(out, pw) || strings.Contains(out, ghTail) {
		t.Fatalf("secret logged: %s", out)
	}
	if !strings.Contains(out, "postgresql://app:****@db:5432/app") || !strings.Contains(out, `"key_id":"k-1234"`) {
		t.Fatalf("unexpected log: %s", out)
	}
}

func TestScanGitAndStaged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := scanEnv{"HOME": t.TempDir()}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com",
			"GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	pw := testValue("git")
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "settings.py"), []byte("DEBUG = True\nDB_PASSWORD = \""+pw+"\"\n"), 0o600)
	git("add", ".")
	git("commit", "-qm", "settings")
	os.WriteFile(filepath.Join(dir, "settings.py"), []byte("DEBUG = True\nDB_PASSWORD = os.environ[\"DB_PASSWORD\"]\n"), 0o600)
	git("commit", "-qam", "read the password from the environment")

	// The working tree is clean; the history is not.
	if code, _, errs := e.run(t, "", "scan", dir); code != ExitOK {
		t.Fatalf("tree: exit %d %s", code, errs)
	}
	code, out, _ := e.run(t, "", "scan", "--git", dir)
	if code != ExitCheckFailed || !strings.Contains(out, "settings.py:2:16: generic-assignment") || !strings.Contains(out, "by Ann <ann@example.com>") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}

	// Pre-commit: only what is staged counts.
	t.Chdir(dir)
	if code, _, errs := e.run(t, "", "scan", "--staged"); code != ExitOK {
		t.Fatalf("nothing staged: exit %d %s", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "deploy.env"), []byte("SA01_AUTH_INTERNAL_TOKEN="+testValue("staged")+"\n"), 0o600)
	git("add", "deploy.env")
	code, out, _ = e.run(t, "", "scan", "--staged")
	if code != ExitCheckFailed || !strings.Contains(out, "deploy.env:1:26: sa01-env-assignment") {
		t.Fatalf("staged: exit %d\n%s", code, out)
	}
	if strings.Contains(out, pw) || strings.Contains(out, testValue("staged")) {
		t.Fatal("secret in output")
	}
}

func TestScanOnlyBinariesIsNotClean(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir()}
	dir := writeFiles(t, map[string]string{"a.bin": "\x00\x01\x02", "b.bin": "x\x00y"})
	if code, _, errs := e.run(t, "", "scan", dir); code != ExitError || !strings.Contains(errs, "nothing was scanned") {
		t.Fatalf("exit %d, %s", code, errs)
	}
}

// gatedReader gives data, then waits for gate (or a timeout, recorded)
// before it ends.
type gatedReader struct {
	data     []byte
	gate     <-chan struct{}
	timedOut bool
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	select {
	case <-r.gate:
	case <-time.After(20 * time.Second):
		r.timedOut = true
	}
	return 0, io.EOF
}

// signalWriter closes first at its first write.
type signalWriter struct {
	bytes.Buffer
	first chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.first) })
	return w.Buffer.Write(p)
}

// TestScanStreamsEveryFormat: JSON and SARIF findings are written as they
// are found, as text ones are, so memory does not grow with them (2M
// findings on stdin took 3.1 GB as JSON): stdin does not end until the
// first findings are out.
func TestScanStreamsEveryFormat(t *testing.T) {
	var lines strings.Builder
	for i := 0; lines.Len() < 5<<18; i++ { // more than one 1 MiB unit
		fmt.Fprintf(&lines, "api_key = \"%s\"\n", strings.Repeat(testValue(fmt.Sprint(i))[4:], 2))
	}
	for _, format := range []string{"text", "json", "sarif"} {
		t.Run(format, func(t *testing.T) {
			out := &signalWriter{first: make(chan struct{})}
			in := &gatedReader{data: []byte(lines.String()), gate: out.first}
			var errb bytes.Buffer
			code := run(context.Background(), []string{"scan", "--stdin", "--format", format}, in, out, &errb, func(string) string { return "" })
			if in.timedOut {
				t.Fatalf("no finding was written before the input ended")
			}
			if code != ExitCheckFailed {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if format != "text" && !json.Valid(out.Bytes()) {
				t.Fatalf("not JSON: %.200s", out.String())
			}
		})
	}
}

// TestScanTextOutputEscapes: a file name with a newline and escape
// sequences, and a git author that erases the line above, cannot fake or
// hide finding lines on a terminal: the text output holds no control
// character but newlines, one per line written.
func TestScanTextOutputEscapes(t *testing.T) {
	e := scanEnv{"HOME": t.TempDir()}
	name := "a\x1b[2K\rfake.txt:1:1: ok\nb.env"
	dir := writeFiles(t, map[string]string{name: "DB_PASSWORD=" + testValue("esc") + "\n"})
	code, out, _ := e.run(t, "", "scan", dir)
	if code != ExitCheckFailed || strings.Count(out, "\n") != 1 || strings.ContainsAny(out, "\x1b\r") {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return
	}
	cmd := exec.Command("sh", "-c", `git init -q -b main . && git add -A && git -c user.name="$(printf 'Mallory \033[2K\r\033[1A')" -c user.email=m@x commit -qm x`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git: %v %s", err, b)
	}
	code, out, _ = e.run(t, "", "scan", "--git", dir)
	if code != ExitCheckFailed || strings.Count(out, "\n") != 2 || strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `by "Mallory \x1b[2K\r\x1b[1A <m@x>"`) {
		t.Fatalf("git: exit %d, output %q", code, out)
	}
}

// TestScanStagedRunsNothing: the pre-commit hook's scan obeyed the
// repository: core.fsmonitor=./evil.sh ran, and `*.env -diff` in
// .gitattributes made it report 0 findings, exit 0, for a staged file with
// two secrets. It runs nothing and finds both.
func TestScanStagedRunsNothing(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := scanEnv{"HOME": t.TempDir()}
	dir := t.TempDir()
	ran := filepath.Join(t.TempDir(), "ran")
	evil := filepath.Join(dir, "evil.sh")
	os.WriteFile(evil, []byte("#!/bin/sh\necho ran >> '"+ran+"'\n"), 0o755)
	cmd := exec.Command("sh", "-c", `git init -q -b main . && printf '*.env -diff\n' > .gitattributes && git add .gitattributes evil.sh &&
		git -c user.name=A -c user.email=a@x commit -qm init && git config core.fsmonitor ./evil.sh &&
		printf 'DB_PASSWORD=%s\nAPI_TOKEN=%s\n' "$P1" "$P2" > prod.env && git add prod.env`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "P1="+testValue("s1"), "P2="+testValue("s2"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git: %v %s", err, b)
	}
	os.Remove(ran) // git add ran it
	t.Chdir(dir)
	code, out, errs := e.run(t, "", "scan", "--staged")
	if code != ExitCheckFailed || strings.Count(out, "prod.env:") != 2 {
		t.Errorf("exit %d, output %q, %s", code, out, errs)
	}
	if b, err := os.ReadFile(ran); err == nil {
		t.Errorf("core.fsmonitor ran: %s", b)
	}
}
