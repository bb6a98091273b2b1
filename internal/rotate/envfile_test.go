package rotate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
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
	ef, err := ParseEnv([]byte(src))
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
			_, err := ParseEnv([]byte(src))
			var ee *EnvFileError
			if !errors.As(err, &ee) {
				t.Fatalf("ParseEnv = %v, want *EnvFileError", err)
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
	ef, err := ParseEnv([]byte(src))
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
	ef2, err := ParseEnv(ef.Bytes())
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
	ef, _ := ParseEnv([]byte("A=1\n"))
	for _, v := range []string{`with "double" and 'single'`, `$HOME and \back`, "tab\there", ""} {
		if err := ef.Set("A", v); err != nil {
			t.Fatal(err)
		}
		back, err := ParseEnv(ef.Bytes())
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

func TestReadEnvFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadEnvFile(filepath.Join(dir, "missing.env"))
	var ee *EnvFileError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "missing.env") {
		t.Errorf("missing file: %v", err)
	}
	if os.Getuid() != 0 {
		p := writeTemp(t, "noread.env", "A=1\n", 0o000)
		if _, err := ReadEnvFile(p); err == nil || !strings.Contains(err.Error(), "permission") {
			t.Errorf("unreadable file: %v", err)
		}
	}
	if _, err := ReadEnvFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestRingFromEnvFile(t *testing.T) {
	k1, k2, k3 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	ef, _ := ParseEnv([]byte("SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k2.Encode() + "," + k3.Encode() + "\n"))
	r, err := ef.Ring()
	if err != nil {
		t.Fatal(err)
	}
	ks := r.Keys()
	if len(ks) != 3 || !ks[0].Equal(k1) || !ks[1].Equal(k2) || !ks[2].Equal(k3) {
		t.Fatalf("ring order wrong: %s", keyIDsOf(ks))
	}

	bad := map[string]string{
		"no key":    "OTHER=1\n",
		"empty key": "SA01_CRYPTO_FERNET_KEY=\n",
		"_FILE":     "SA01_CRYPTO_FERNET_KEY_FILE=/run/k\n",
		"twice":     "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_KEY=" + k2.Encode() + "\n",
		"malformed": "SA01_CRYPTO_FERNET_KEY=notakey\n",
		"bad prev":  "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k2.Encode() + ",short\n",
		"duplicate": "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k1.Encode() + "\n",
	}
	for name, src := range bad {
		t.Run(name, func(t *testing.T) {
			ef, err := ParseEnv([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ef.Ring()
			if err == nil {
				t.Fatal("Ring accepted it")
			}
			for _, k := range []*fernet.Key{k1, k2} {
				if strings.Contains(err.Error(), k.Encode()) {
					t.Fatalf("error reveals a key: %v", err)
				}
			}
		})
	}
	ef, _ = ParseEnv([]byte("A=1\n"))
	if _, err := ef.Ring(); !errors.Is(err, ErrNoKeyInFile) {
		t.Errorf("no key: %v, want ErrNoKeyInFile", err)
	}
}

func keyIDsOf(ks []*fernet.Key) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.ID())
	}
	return strings.Join(s, ",")
}

func TestSetRingAndWriteAtomic(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	orig := "# platform\nSA01_DB_DSN=sqlite:///x.db\nSA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\n"
	p := writeTemp(t, ".env", orig, 0o644)
	ef, err := ReadEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := fernet.NewRing(k2, k1)
	if err := ef.SetRing(ring); err != nil {
		t.Fatal(err)
	}
	if err := ef.Write(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p, p + ".bak"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	bak, _ := os.ReadFile(p + ".bak")
	if string(bak) != orig {
		t.Errorf(".bak = %q, want the original", bak)
	}
	got, _ := os.ReadFile(p)
	want := "# platform\nSA01_DB_DSN=sqlite:///x.db\nSA01_CRYPTO_FERNET_KEY=" + k2.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k1.Encode() + "\n"
	if string(got) != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(p))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	// The ring reads back through config.Load exactly as services would.
	back, err := ReadEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(back.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if ks := cfg.Keys.Keys(); len(ks) != 2 || !ks[0].Equal(k2) || !ks[1].Equal(k1) {
		t.Errorf("config.Load sees %s", keyIDsOf(ks))
	}
}

func TestWriteRefusesConcurrentChange(t *testing.T) {
	k1 := fernet.GenerateKey()
	orig := "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\n"
	p := writeTemp(t, ".env", orig, 0o600)
	ef, err := ReadEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	_ = ef.Set("X", "1")
	if err := os.WriteFile(p, []byte(orig+"# edited\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ef.Write(); !errors.Is(err, ErrEnvFileChanged) {
		t.Fatalf("Write = %v, want ErrEnvFileChanged", err)
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
	ef, err := ReadEnvFile(link)
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

func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{
		"A=1\n", "export B='x y'\n", "C=\"a\\\"b\"\n", "# c\n\nD = e # f\r\n", "E=\"multi\nline\"\n", "F='unterminated\n", "G=#h\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := ParseEnv(b)
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
		back, err := ParseEnv(ef.Bytes())
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
	ef, err := ReadEnvFile(p)
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

// agreeWithImport checks that every variable that secrets.ParseDotenv
// (import) reads from b is read with the same value by ParseEnv (rotate's
// editor of the same files). Import is the stricter of the two: a file it
// refuses proves nothing, and rotate may read more (names with '.', lines
// it keeps as they are).
func agreeWithImport(t *testing.T, b []byte) {
	t.Helper()
	es, err := secrets.ParseDotenv(strings.NewReader(string(b)))
	if err != nil {
		return
	}
	ef, err := ParseEnv(b)
	if err != nil {
		t.Fatalf("import reads %q, rotate refuses it: %v", b, err)
	}
	for _, e := range es {
		if v, ok := ef.Lookup(e.Name); !ok || v != e.Value.Reveal() {
			t.Fatalf("%q: %s is %q to import, %q (found %v) to rotate", b, e.Name, e.Value.Reveal(), v, ok)
		}
	}
}

// TestEnvParsersAgree: import and rotate read the same values from the
// same file, for the cases where they once did not.
func TestEnvParsersAgree(t *testing.T) {
	for _, src := range []string{
		"A=#x\n", "A= #x\n", "A=a #c\n", "A=a#b\n", "A=\"a\\`b\"\n", "A=\"a\\'b\"\n", "A=\"a\\qb\"\n",
		"\ufeffA=1\nB=2\n", "A=\"a\r\nb\"\r\n", "A='a\r\nb'\r\n", "export A=1\n", "A = 1 \n", "A=\"x\" # c\n",
		"A=x\r", "A=x\r\r\n", "A=\"x\r\r\ny\"\n", "A=a\t#b #c\n",
	} {
		es, err := secrets.ParseDotenv(strings.NewReader(src))
		if err != nil || len(es) == 0 {
			t.Fatalf("import refuses %q: %v", src, err)
		}
		agreeWithImport(t, []byte(src))
	}
	// The byte order mark stays where it was when a value changes.
	ef, err := ParseEnv([]byte("\ufeffA=1\nB=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ef.Set("A", "3"); err != nil {
		t.Fatal(err)
	}
	if got := string(ef.Bytes()); got != "\ufeffA=3\nB=2\n" {
		t.Errorf("after Set: %q", got)
	}
}

func FuzzEnvParsersAgree(f *testing.F) {
	for _, s := range []string{
		"A=1\n", "export B='x y'\n", "C=\"a\\\"b\"\n", "# c\n\nD = e # f\r\n", "E=\"multi\nline\"\n", "G=#h\n",
		"\ufeffA=1\n", "A=\"a\r\nb\"\r\n", "A=\"\\`\\'\\q\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(agreeWithImport)
}
