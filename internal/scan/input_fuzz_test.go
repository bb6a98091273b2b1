package scan

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadBaseline feeds ReadBaseline a baseline file, which lives in the
// scanned repository and may be hostile. It never panics; a refusal is a
// *BaselineError with a hint and a short reason; an accepted file is one
// JSON object, and its fingerprints, written again as a baseline, read
// back as the same set.
func FuzzReadBaseline(f *testing.F) {
	k := testKey(f, "a")
	id := k.ID()
	f.Add([]byte("{\n  \"version\": 2,\n  \"key_id\": \"" + id + "\",\n  \"findings\": [\n    {\"fingerprint\":\"855052c7ad778ba716cd4be4d4741a48\",\"rule\":\"r\",\"path\":\"p\",\"line\":1}\n  ]\n}\n"))
	f.Add([]byte("{\n  \"version\": 2,\n  \"key_id\": \"" + id + "\",\n  \"findings\": []\n}\n"))
	f.Add([]byte(`{"version": 1, "findings": [{"fingerprint": "855052c7ad778ba716cd4be4d4741a48", "rule": "r", "path": "p", "line": 1}]}`))
	f.Add([]byte(`[1, 2]`))
	f.Add([]byte(`{"version": 2, "key_id": "` + id + `", "findings": [{"fingerprint": "xyz"}]}`))
	f.Add([]byte(`{"version": 2, "key_id": "0123456789ab", "findings": []}`))
	f.Add([]byte(`{"x": {"y": [1]}, "version": 2, "key_id": "` + id + `", "findings": [{"fingerprint":"855052C7AD778BA716CD4BE4D4741A48"}], "findings": []}`))
	dir := f.TempDir()
	file := filepath.Join(dir, "baseline.json")
	again := filepath.Join(dir, "again.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		bl, err := ReadBaseline(file, k)
		if err != nil {
			var be *BaselineError
			if !errors.As(err, &be) || be.File != file || be.Hint == "" {
				t.Fatalf("refusal %v (%T)", err, err)
			}
			if len(be.Reason) > 200 {
				t.Fatalf("a reason of %d bytes: %.80q...", len(be.Reason), be.Reason)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted a file that is not JSON: %q", data)
		}
		w, err := CreateBaseline(again, k)
		if err != nil {
			t.Fatal(err)
		}
		for fp := range bl.set {
			w.Add(Finding{Fingerprint: hex.EncodeToString(fp[:]), Rule: "r", Path: "p", Line: 1})
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		bl2, err := ReadBaseline(again, k)
		if err != nil {
			t.Fatalf("a baseline written from an accepted one: %v", err)
		}
		if bl2.Len() != bl.Len() {
			t.Fatalf("%d fingerprints read back as %d", bl.Len(), bl2.Len())
		}
		for fp := range bl.set {
			if !bl2.Has(Finding{Fingerprint: hex.EncodeToString(fp[:])}) {
				t.Fatalf("fingerprint %x lost", fp)
			}
		}
	})
}

// FuzzParseIgnoreLine feeds the .gitignore parser one line (from the
// scanned tree: hostile) and a path. It never panics; a pattern never
// applies outside the directory of its .gitignore; and a pattern of
// literal characters, * and ? matches what path.Match does (against the
// whole path when it holds a /, against the last element otherwise), so
// neither wildcard crosses a /.
func FuzzParseIgnoreLine(f *testing.F) {
	for _, l := range []string{"*.log", "/build/", "!keep.log", "sub/**/deep.txt", "local.txt", "#comment", `\#x`, `\!x`,
		"a\\ ", "x  ", "a[!b]c", "[abc].txt", "foo/**", "**/bar", "a?c", "a/b*c/d?"} {
		f.Add(l, "sub", "sub/a/b/local.txt")
	}
	f.Fuzz(func(t *testing.T, line, base, rel string) {
		if strings.ContainsAny(line, "\n") {
			return
		}
		p, ok := parseIgnoreLine(base, line)
		if !ok {
			return
		}
		ig := &ignorer{pats: []ignorePattern{p}}
		if base != "" && !strings.HasPrefix(rel, base+"/") && (ig.ignored(rel, false) || ig.ignored(rel, true)) {
			t.Fatalf("%q from %q/.gitignore applies to %q", line, base, rel)
		}
		if p.negate || strings.ContainsAny(line, "[\\\r") || strings.Contains(line, "**") || strings.HasPrefix(line, "#") ||
			strings.HasSuffix(line, " ") || strings.HasSuffix(line, "/") || !utf8.ValidString(line) || !utf8.ValidString(rel) {
			return
		}
		// Against rel, and against the pattern itself as a path (which
		// a pattern of literal characters names).
		pat := strings.TrimPrefix(line, "/")
		for _, rel := range []string{rel, pat} {
			sub := rel
			if !strings.Contains(line, "/") {
				sub = rel[strings.LastIndexByte(rel, '/')+1:]
			}
			want, err := path.Match(pat, sub)
			if err != nil {
				return
			}
			if got := p.re.MatchString(rel); got != want {
				t.Fatalf("%q against %q: %v, path.Match says %v (%s)", line, rel, got, want, p.re)
			}
		}
	})
}
