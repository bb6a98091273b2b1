package scan

import (
	"bytes"
	"encoding/json"
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
// that were built whole before; SARIF carries the fingerprint.
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
			if r.RuleID != fs[i].Rule || r.PartialFingerprints["sa01SecretHash/v1"] != fs[i].Fingerprint {
				t.Errorf("result %d: %+v", i, r)
			}
		}
	}
}
