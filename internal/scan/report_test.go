package scan

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile is text that moves a terminal's cursor, erases lines, or
// reorders what is shown.
const hostile = "a\x1b[2K\r\x1b[1Afake.txt:1:1: ok\nb\x9b2K\u202etxt.exe\x7f\xff"

// unprintable reports the first byte or character of s a terminal would
// act on (tab and newline allowed when lines).
func unprintable(s string, lines bool) (rune, bool) {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return rune(s[i]), true
		}
		if (r == '\t' || r == '\n') && lines {
			continue
		}
		if !strconv.IsPrint(r) {
			return r, true
		}
	}
	return 0, false
}

// TestWriteTextEscapes: paths, excerpts, secret names and authors from the
// input cannot drive the terminal that shows the findings: each finding
// stays on its lines, and no control character is written.
func TestWriteTextEscapes(t *testing.T) {
	f := Finding{Path: hostile, Line: 1, Column: 2, Rule: "generic-assignment", Excerpt: "x=**** " + hostile, SecretName: hostile,
		SecretVersion: 1, Form: "raw", Commit: "abc", Author: "Mallory \x1b[2K\r\x1b[1A <m@x>", Date: "2026"}
	var b bytes.Buffer
	if err := WriteText(&b, f); err != nil {
		t.Fatal(err)
	}
	WriteExplained(&b, Explained{Path: hostile, Line: 1, Column: 1, Rule: "r", Reason: hostile})
	out := b.String()
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, out)
	}
	if r, bad := unprintable(out, true); bad {
		t.Errorf("output holds %U:\n%q", r, out)
	}
	// Names are quoted, unambiguously.
	if !strings.HasPrefix(out, strconv.Quote(hostile)+":1:2: ") {
		t.Errorf("path not quoted: %q", out)
	}
	// Plain text is left alone, tabs in excerpts included.
	b.Reset()
	WriteText(&b, Finding{Path: "dir/a b.py", Line: 3, Column: 4, Rule: "r", Excerpt: "\tpass = \"****\" # é ü 日本"})
	if want := "dir/a b.py:3:4: r: \tpass = \"****\" # é ü 日本\n"; b.String() != want {
		t.Errorf("plain finding %q, want %q", b.String(), want)
	}
}

// FuzzPrintable: whatever the input, Printable writes nothing a terminal
// acts on but tabs, PrintableName writes nothing at all, and a quoted name
// unquotes to the input.
func FuzzPrintable(f *testing.F) {
	f.Add(hostile)
	f.Add("\"quoted")
	f.Add("plain/path.go")
	f.Fuzz(func(t *testing.T, s string) {
		if r, bad := unprintable(strings.ReplaceAll(Printable(s), "\t", ""), false); bad {
			t.Fatalf("Printable(%q) holds %U", s, r)
		}
		n := PrintableName(s)
		if r, bad := unprintable(n, false); bad {
			t.Fatalf("PrintableName(%q) holds %U", s, r)
		}
		if n != s {
			if u, err := strconv.Unquote(n); err != nil || u != s {
				t.Fatalf("PrintableName(%q) = %q does not unquote to it", s, n)
			}
		}
	})
}

// TestJSONAndSARIFWriters: findings written one by one make the documents
// that were built whole before; SARIF carries the fingerprint when there
// is one.
func TestJSONAndSARIFWriters(t *testing.T) {
	fs := []Finding{{Path: "a.py", Line: 1, Column: 2, EndColumn: 9, Rule: "generic-assignment", Excerpt: "x=****", Fingerprint: strings.Repeat("ab", 16)},
		{Path: "b.env", Line: 3, Column: 4, EndColumn: 5, Rule: RuleKnown, SecretName: "db", SecretVersion: 2, Form: "hex", Commit: "c", Author: "A", Date: "D"}}
	for n := range 3 {
		var b bytes.Buffer
		w := NewJSONWriter(&b)
		for _, f := range fs[:n] {
			if err := w.Write(f); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		want, _ := json.MarshalIndent(append([]Finding{}, fs[:n]...), "", "  ")
		if b.String() != string(want)+"\n" {
			t.Errorf("%d findings: %q, want %q", n, b.String(), want)
		}

		b.Reset()
		x := NewSARIFWriter(&b, New(nil), "v1")
		for _, f := range fs[:n] {
			x.Write(f)
		}
		x.Close()
		var log struct {
			Runs []struct {
				Tool struct {
					Driver struct{ Rules []json.RawMessage }
				}
				Results []struct {
					RuleID              string
					PartialFingerprints map[string]string
				}
			}
		}
		if err := json.Unmarshal(b.Bytes(), &log); err != nil {
			t.Fatalf("%d findings: not JSON: %v\n%s", n, err, b.String())
		}
		if len(log.Runs) != 1 || len(log.Runs[0].Results) != n || len(log.Runs[0].Tool.Driver.Rules) < 20 {
			t.Fatalf("%d findings: %s", n, b.String())
		}
		for i, r := range log.Runs[0].Results {
			if r.RuleID != fs[i].Rule || r.PartialFingerprints["sa01SecretHash/v2"] != fs[i].Fingerprint {
				t.Errorf("result %d: %+v", i, r)
			}
		}
	}
}

func testKey(t testing.TB, seed string) *FingerprintKey {
	t.Helper()
	k, err := NewFingerprintKey([]byte("scan-key-" + seed + "-0123456789abcdef0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFingerprintsSayNothing: a baseline, JSON and SARIF carry no hash of a
// secret that someone without the key can test a guess against: a
// dictionary holding the secret finds nothing, whatever it combines it with
// (unsalted as before, or salted with any string the files hold). Without
// a key, findings carry no fingerprint at all.
func TestFingerprintsSayNothing(t *testing.T) {
	t.Parallel()
	secret := "Summer2024!x"
	words := []string{"password", "Winter2023!", "letmein", secret, "hunter2"}
	path, rule := "config/app.env", "generic-assignment"
	s := New(nil).WithFingerprintKey(testKey(t, "a"))
	u := Unit{Path: path, Data: []byte("DB_PASSWORD=" + secret + "\n"), FirstLine: 1}
	fs := s.ScanUnit(u)
	if len(fs) != 1 || fs[0].Rule != rule || len(fs[0].Fingerprint) != 32 {
		t.Fatalf("findings %+v", fs)
	}
	dir := t.TempDir()
	bl := filepath.Join(dir, "baseline.json")
	w, err := CreateBaseline(bl, s.FingerprintKey())
	if err != nil {
		t.Fatal(err)
	}
	w.Add(fs[0])
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	var js, sarif bytes.Buffer
	jw := NewJSONWriter(&js)
	jw.Write(fs[0])
	jw.Close()
	sw := NewSARIFWriter(&sarif, s, "v")
	sw.Write(fs[0])
	sw.Close()
	blData, _ := os.ReadFile(bl)
	all := string(blData) + js.String() + sarif.String()
	strs := regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(all, -1)
	salts := [][]byte{nil}
	for _, m := range strs {
		salts = append(salts, []byte(m[1]))
	}
	hexes := map[string]bool{}
	for _, m := range regexp.MustCompile(`[0-9a-f]{32,64}`).FindAllString(all, -1) {
		hexes[m] = true
	}
	if len(hexes) == 0 {
		t.Fatal("no fingerprint written at all")
	}
	for _, word := range words {
		msg := rule + "\x00" + path + "\x00" + word
		sum := sha256.Sum256([]byte(msg))
		cands := []string{hex.EncodeToString(sum[:16]), hex.EncodeToString(sum[:])}
		for _, salt := range salts {
			m := hmac.New(sha256.New, salt)
			m.Write([]byte(msg))
			h := m.Sum(nil)
			cands = append(cands, hex.EncodeToString(h[:16]), hex.EncodeToString(h))
			sum := sha256.Sum256(append(append([]byte{}, salt...), msg...))
			cands = append(cands, hex.EncodeToString(sum[:16]))
		}
		for _, c := range cands {
			if hexes[c] {
				t.Fatalf("the dictionary word %q matches %s", word, c)
			}
		}
	}
	// Another key, another fingerprint; no key, none.
	if other := New(nil).WithFingerprintKey(testKey(t, "b")).ScanUnit(u); other[0].Fingerprint == fs[0].Fingerprint {
		t.Error("two keys give one fingerprint")
	}
	if none := New(nil).ScanUnit(u); none[0].Fingerprint != "" {
		t.Errorf("no key, fingerprint %q", none[0].Fingerprint)
	}
	// The key never prints.
	k := s.FingerprintKey()
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %x %q %d", k, k, k, k, k, k, k), string(must(json.Marshal(k)))} {
		if strings.Contains(out, "0123456789abcdef") || !strings.Contains(out, k.ID()) {
			t.Errorf("key printed as %q", out)
		}
	}
}

func must[T any](v T, _ error) T { return v }

// TestBaselineFiles: a baseline written with a key is read back with it;
// it is refused with another key, without one, and so is a version 1 file
// (unkeyed hashes) and a file that is not a baseline, each with a hint that
// says how to write a new one. A symbolic link is never written through.
func TestBaselineFiles(t *testing.T) {
	t.Parallel()
	k := testKey(t, "a")
	s := New(nil).WithFingerprintKey(k)
	fs := s.ScanUnit(Unit{Path: "a.env", Data: []byte("password=Zq8!" + rnd(alnumSet, 12, 1200) + "\ntoken=" + rnd(alnumSet, 40, 1201) + "\n"), FirstLine: 1})
	if len(fs) != 2 {
		t.Fatalf("findings %+v", fs)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "bl.json")
	w, err := CreateBaseline(file, k)
	if err != nil {
		t.Fatal(err)
	}
	w.Add(fs[0])
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	bl, err := ReadBaseline(file, k)
	if err != nil {
		t.Fatal(err)
	}
	if !bl.Has(fs[0]) || bl.Has(fs[1]) || bl.Len() != 1 {
		t.Errorf("Has: %v %v, %d entries", bl.Has(fs[0]), bl.Has(fs[1]), bl.Len())
	}
	// An empty baseline is a baseline.
	empty := filepath.Join(dir, "empty.json")
	ew, _ := CreateBaseline(empty, k)
	ew.Commit()
	if bl, err := ReadBaseline(empty, k); err != nil || bl.Len() != 0 {
		t.Errorf("empty: %v", err)
	}

	v1 := filepath.Join(dir, "v1.json")
	os.WriteFile(v1, []byte(`{"version": 1, "findings": [{"fingerprint": "855052c7ad778ba716cd4be4d4741a48", "rule": "r", "path": "p", "line": 1}]}`), 0o600)
	notBL := filepath.Join(dir, "not.json")
	os.WriteFile(notBL, []byte(`[1, 2]`), 0o600)
	badFP := filepath.Join(dir, "badfp.json")
	os.WriteFile(badFP, []byte(`{"version": 2, "key_id": "`+k.ID()+`", "findings": [{"fingerprint": "xyz"}]}`), 0o600)
	// A file cut short, or with more after its object, is not read as a
	// baseline.
	cut := filepath.Join(dir, "cut.json")
	os.WriteFile(cut, []byte(`{"version": 2, "key_id": "`+k.ID()+`", "findings": []`), 0o600)
	more := filepath.Join(dir, "more.json")
	os.WriteFile(more, []byte(`{"version": 2, "key_id": "`+k.ID()+`", "findings": []} {}`), 0o600)
	// A key ID that is not one is not quoted back, whatever its length.
	longID := filepath.Join(dir, "longid.json")
	os.WriteFile(longID, []byte(`{"version": 2, "key_id": "`+strings.Repeat("x", 4096)+`", "findings": []}`), 0o600)
	for _, tc := range []struct {
		file   string
		key    *FingerprintKey
		reason string
	}{
		{cut, k, "not a baseline file"},
		{longID, k, "not a baseline file"},
		{more, k, "not a baseline file"},
		{file, testKey(t, "b"), "written with scan key " + k.ID() + ", but SA01_SECRETS_SCAN_KEY is scan key " + testKey(t, "b").ID()},
		{file, nil, "SA01_SECRETS_SCAN_KEY is not set"},
		{v1, k, "a version 1 baseline"},
		{notBL, k, "not a baseline file"},
		{badFP, k, "not a baseline file"},
	} {
		_, err := ReadBaseline(tc.file, tc.key)
		var be *BaselineError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, tc.reason) || !strings.Contains(be.Hint, "--write-baseline") {
			t.Errorf("%s: %v (%+v), want %q and a hint", filepath.Base(tc.file), err, be, tc.reason)
		}
	}
	if _, err := CreateBaseline(filepath.Join(dir, "x.json"), nil); err == nil {
		t.Error("a baseline without a key was started")
	}

	// A link planted where the baseline goes is refused, and what it
	// points to is unchanged.
	hook := filepath.Join(dir, "pre-commit")
	os.WriteFile(hook, []byte("#!/bin/sh\nexit 0\n"), 0o700)
	link := filepath.Join(dir, "link.json")
	os.Symlink(hook, link)
	if _, err := CreateBaseline(link, k); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a link: %v", err)
	}
	if b, _ := os.ReadFile(hook); string(b) != "#!/bin/sh\nexit 0\n" {
		t.Errorf("the hook was rewritten: %q", b)
	}
}
