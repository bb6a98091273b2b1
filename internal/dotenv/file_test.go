package dotenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func TestParseEnvLookup(t *testing.T) {
	src := "# header comment\n" +
		"\n" +
		"PLAIN=abc\n" +
		"export EXPORTED=def\n" +
		"SPACED = ghi  # trailing comment\n" +
		"SINGLE='a b # not a comment'\n" +
		"DOUBLE=\"x\\\"y\\\\z\\n\"\n" +
		"MULTI=\"line1\nline2\"\n" +
		"HASH=a#b\n" +
		"CRLF=crlf\r\n" +
		"not a line at all\n" +
		"EMPTY=\n" +
		"DUP=1\n" +
		"DUP=2"
	ef, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"PLAIN":    "abc",
		"EXPORTED": "def",
		"SPACED":   "ghi",
		"SINGLE":   "a b # not a comment",
		"DOUBLE":   "x\"y\\z\n",
		"MULTI":    "line1\nline2",
		"HASH":     "a#b",
		"CRLF":     "crlf",
		"EMPTY":    "",
		"DUP":      "2",
	} {
		got, ok := ef.Lookup(name)
		if !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := ef.Lookup("MISSING"); ok {
		t.Error("Lookup(MISSING) found something")
	}
	if got := string(ef.Bytes()); got != src {
		t.Errorf("Bytes() does not round-trip:\n%q\nwant\n%q", got, src)
	}
}

func TestParseEnvRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"unterminated double": "A=\"abc\nB=1\n",
		"unterminated single": "A='abc\n",
		"nul":                 "A=1\x00\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(src))
			var ee *FileError
			if !errors.As(err, &ee) {
				t.Fatalf("ParseEnv = %v, want *FileError", err)
			}
		})
	}
}

func TestSetPreservesEverythingElse(t *testing.T) {
	src := "# keys\r\n" +
		"export SA01_CRYPTO_FERNET_KEY='old' # rotated quarterly\r\n" +
		"OTHER=\"keep me\"\r\n" +
		"SA01_CRYPTO_FERNET_PREVIOUS_KEYS=\r\n" +
		"TAIL=1"
	ef, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := ef.Set("SA01_CRYPTO_FERNET_KEY", "new-key="); err != nil {
		t.Fatal(err)
	}
	if err := ef.Set("SA01_CRYPTO_FERNET_PREVIOUS_KEYS", "a=,b="); err != nil {
		t.Fatal(err)
	}
	if err := ef.Set("ADDED", "has space"); err != nil {
		t.Fatal(err)
	}
	want := "# keys\r\n" +
		"export SA01_CRYPTO_FERNET_KEY='new-key=' # rotated quarterly\r\n" +
		"OTHER=\"keep me\"\r\n" +
		"SA01_CRYPTO_FERNET_PREVIOUS_KEYS=a=,b=\r\n" +
		"TAIL=1\r\n" +
		"ADDED=\"has space\"\r\n"
	if got := string(ef.Bytes()); got != want {
		t.Errorf("after Set:\n%q\nwant\n%q", got, want)
	}
	// What was written reads back the same.
	ef2, err := Parse(ef.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"SA01_CRYPTO_FERNET_KEY", "SA01_CRYPTO_FERNET_PREVIOUS_KEYS", "ADDED", "OTHER", "TAIL"} {
		a, _ := ef.Lookup(n)
		b, _ := ef2.Lookup(n)
		if a != b {
			t.Errorf("%s: %q after reparse, want %q", n, b, a)
		}
	}
}

func TestSetQuotesWhatNeedsIt(t *testing.T) {
	ef, _ := Parse([]byte("A=1\n"))
	for _, v := range []string{`with "double" and 'single'`, `$HOME and \back`, "tab\there", ""} {
		if err := ef.Set("A", v); err != nil {
			t.Fatal(err)
		}
		back, err := Parse(ef.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := back.Lookup("A"); got != v {
			t.Errorf("Set(%q) reads back %q (file %q)", v, got, ef.Bytes())
		}
	}
	if err := ef.Set("A", "two\nlines"); err == nil {
		t.Error("Set accepted a line break")
	}
	if err := ef.Set("1BAD", "x"); err == nil {
		t.Error("Set accepted a bad name")
	}
}

func writeTemp(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(filepath.Join(dir, "missing.env"))
	var ee *FileError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "missing.env") {
		t.Errorf("missing file: %v", err)
	}
	if os.Getuid() != 0 {
		p := writeTemp(t, "noread.env", "A=1\n", 0o000)
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "permission") {
			t.Errorf("unreadable file: %v", err)
		}
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestWriteRefusesConcurrentChange(t *testing.T) {
	k1 := fernet.GenerateKey()
	orig := "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\n"
	p := writeTemp(t, ".env", orig, 0o600)
	ef, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	_ = ef.Set("X", "1")
	if err := os.WriteFile(p, []byte(orig+"# edited\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ef.Write(); !errors.Is(err, ErrChanged) {
		t.Fatalf("Write = %v, want ErrChanged", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != orig+"# edited\n" {
		t.Error("Write changed a file that changed under it")
	}
	if _, err := os.Stat(p + ".bak"); err == nil {
		t.Error("Write left a .bak though it refused")
	}
}

func TestWriteFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.env")
	if err := os.WriteFile(real, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, ".env")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	ef, err := Read(link)
	if err != nil {
		t.Fatal(err)
	}
	_ = ef.Set("A", "2")
	if err := ef.Write(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
	if b, _ := os.ReadFile(real); string(b) != "A=2\n" {
		t.Errorf("target = %q", b)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"A=1\n", "export B='x y'\n", "C=\"a\\\"b\"\n", "# c\n\nD = e # f\r\n", "E=\"multi\nline\"\n", "F='unterminated\n", "G=#h\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := Parse(b)
		if err != nil {
			return
		}
		if string(ef.Bytes()) != string(b) {
			t.Fatalf("round trip changed the file: %q -> %q", b, ef.Bytes())
		}
		// Setting a value always reads back.
		if err := ef.Set("SA01_FUZZ", "v=1,w"); err != nil {
			t.Fatal(err)
		}
		back, err := Parse(ef.Bytes())
		if err != nil {
			t.Fatalf("file no longer parses after Set: %v\n%q", err, ef.Bytes())
		}
		if v, _ := back.Lookup("SA01_FUZZ"); v != "v=1,w" {
			t.Fatalf("Set value reads back %q in %q", v, ef.Bytes())
		}
	})
}

func TestWriteRemovesStaleTemps(t *testing.T) {
	p := writeTemp(t, ".env", "A=1\n", 0o600)
	stale := filepath.Join(filepath.Dir(p), "..env.tmp-12345")
	staleBak := filepath.Join(filepath.Dir(p), "..env.bak.tmp-999")
	os.WriteFile(stale, []byte("SA01_CRYPTO_FERNET_KEY=half-written"), 0o600)
	os.WriteFile(staleBak, []byte("x"), 0o600)
	ef, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	_ = ef.Set("A", "2")
	if err := ef.Write(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stale, staleBak} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("stale temporary file %s left", filepath.Base(f))
		}
	}
}

// TestFoundCases: the files on which import and key rotation, when each
// had a parser of its own, once read different values (found by fuzzing
// the two against each other), with the values both read since.
func TestFoundCases(t *testing.T) {
	for _, c := range []struct {
		src  string
		want map[string]string
	}{
		{"A=#x\n", map[string]string{"A": "#x"}},
		{"A= #x\n", map[string]string{"A": "#x"}},
		{"A=a #c\n", map[string]string{"A": "a"}},
		{"A=a#b\n", map[string]string{"A": "a#b"}},
		{"A=\"a\\`b\"\n", map[string]string{"A": "a`b"}},
		{"A=\"a\\'b\"\n", map[string]string{"A": "a'b"}},
		{"A=\"a\\qb\"\n", map[string]string{"A": "a\\qb"}},
		{"\ufeffA=1\nB=2\n", map[string]string{"A": "1", "B": "2"}},
		{"A=\"a\r\nb\"\r\n", map[string]string{"A": "a\nb"}},
		{"A='a\r\nb'\r\n", map[string]string{"A": "a\nb"}},
		{"export A=1\n", map[string]string{"A": "1"}},
		{"A = 1 \n", map[string]string{"A": "1"}},
		{"A=\"x\" # c\n", map[string]string{"A": "x"}},
		{"A=x\r", map[string]string{"A": "x"}},
		{"A=x\r\r\n", map[string]string{"A": "x"}},
		{"A=\"x\r\r\ny\"\n", map[string]string{"A": "x\ny"}},
		{"A=a\t#b #c\n", map[string]string{"A": "a"}},
		{"export B='x y'\n", map[string]string{"B": "x y"}},
		{"C=\"a\\\"b\"\n", map[string]string{"C": "a\"b"}},
		{"# c\n\nD = e # f\r\n", map[string]string{"D": "e"}},
		{"E=\"multi\nline\"\n", map[string]string{"E": "multi\nline"}},
		{"A=\"\\`\\'\\q\"", map[string]string{"A": "`'\\q"}},
	} {
		f, err := Parse([]byte(c.src))
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		es, err := f.Entries()
		if err != nil || len(es) != len(c.want) {
			t.Fatalf("%q: entries %d, %v; want %d", c.src, len(es), err, len(c.want))
		}
		for _, e := range es {
			if v, ok := f.Lookup(e.Name); e.Value.Reveal() != c.want[e.Name] || !ok || v != c.want[e.Name] {
				t.Errorf("%q: %s = %q (Lookup %q), want %q", c.src, e.Name, e.Value.Reveal(), v, c.want[e.Name])
			}
		}
	}
}
